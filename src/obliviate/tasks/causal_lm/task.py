"""The causal-LM task: every quantity is taken over answer tokens only (DESIGN.md table).

The output layer runs only where a quantity is used: a forward pre-hook on the model's output
embeddings (``get_output_embeddings``, the LM head) keeps the hidden states of the labelled
positions and hands the head an empty slice, so no (batch, length, vocabulary) tensor is ever
made. Log-probabilities are then taken ``CHUNK`` positions at a time, each chunk's head and
cross-entropy recomputed in the backward pass (activation checkpointing), so one step's
vocabulary-sized memory is one chunk's, not every position's: at SmolLM2's 49k vocabulary a
float32 ``log_softmax`` over 32 x 183 positions was 1.1 GB per tensor (issue 15).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from obliviate.tasks.classification.task import hidden_output
from obliviate.types import Batch

IGNORE = -100
CHUNK = 512  # positions per head call: 512 x 49k float32 logits are 100 MB


@dataclass(frozen=True)
class Selected:
    """The final hidden states of a batch's labelled positions and what predicts from them.

    ``hidden`` (N, H) row-major over the (B, T-1) ``valid`` mask of shifted labels;
    ``labels`` (N,); ``head`` the model's output layer; ``anchor`` the model's own (empty)
    logits, added as ``0 * anchor.sum()`` to what a caller differentiates so a backward pass
    still reaches the model's output (``passes.count_passes`` counts it there).
    """

    hidden: torch.Tensor
    labels: torch.Tensor
    valid: torch.Tensor
    head: Callable[[torch.Tensor], torch.Tensor]
    anchor: torch.Tensor

    def logits(self) -> torch.Tensor:
        return self.head(self.hidden) + 0 * self.anchor.sum()

    def argmax(self) -> torch.Tensor:
        """(N,) the most likely token at each labelled position, ``CHUNK`` at a time."""
        return torch.cat([self.head(self.hidden[i:i + CHUNK]).argmax(-1)
                          for i in range(0, len(self.labels), CHUNK)] or
                         [self.labels.new_zeros(0)])

    def spread(self, values: torch.Tensor) -> torch.Tensor:
        """(N,) values at the labelled positions as (B, T-1), 0 elsewhere (differentiable)."""
        return values.new_zeros(self.valid.shape).masked_scatter(self.valid, values)


def cache_kwarg(model: nn.Module) -> str:
    """The name a model's forward takes a KV cache by: ``cache`` since transformers 5 (which
    deprecates ``past_key_values``), ``past_key_values`` before."""
    params = inspect.signature(model.forward).parameters
    return "past_key_values" if "past_key_values" in params and "cache" not in params \
        else "cache"


def _chunk_logprob(head: Callable[[torch.Tensor], torch.Tensor], hidden: torch.Tensor,
                   labels: torch.Tensor) -> torch.Tensor:
    return -F.cross_entropy(head(hidden).float(), labels, reduction="none")


def trim(batch: Batch) -> Batch:
    """Drop the right padding every row of the batch shares (splits pad to their longest)."""
    if batch.mask is None:
        return batch
    width = int(batch.mask.sum(dim=1).max())
    return Batch(batch.inputs[:, :width], batch.targets[:, :width], batch.mask[:, :width])


@dataclass(frozen=True)
class CausalLMTask:
    """``Batch.inputs`` token ids, ``targets`` labels (-100 off the answer), ``mask`` attention.

    ``refusals`` are token-id sequences of "I don't know"-style answers (without EOS), the
    alternative target for relabelling methods (IdkPO, RL, SalUn on language models).
    """

    pad_id: int
    eos_id: int
    refusals: tuple[tuple[int, ...], ...]
    name: str = "causal_lm"

    def __post_init__(self) -> None:
        if not self.refusals or not all(self.refusals):
            raise ValueError("CausalLMTask needs at least one non-empty refusal sequence")

    def selected(self, model: nn.Module, batch: Batch, *, past: Any = None,
                 past_len: int = 0) -> Selected:
        """One forward pass whose output layer runs on no position (module docstring).

        ``past``: a KV cache of ``past_len`` tokens every row continues (``probe.
        score_answers`` shares one prompt's cache between its answers); the batch's rows then
        start at position ``past_len``.
        """
        b = trim(batch)
        extra: dict[str, Any] = {}
        mask = b.mask
        if past is not None:
            if mask is None:
                raise ValueError("a batch continuing a KV cache needs an attention mask")
            mask = torch.cat([mask.new_ones(len(mask), past_len), mask], dim=1)
            width = b.inputs.shape[1]
            extra = {cache_kwarg(model): past, "use_cache": True, "position_ids": (
                torch.arange(past_len, past_len + width, device=mask.device)
                .expand(len(mask), width))}
        labels = b.targets[:, 1:]
        valid = labels != IGNORE
        get_head = getattr(model, "get_output_embeddings", None)
        head = get_head() if callable(get_head) else None
        if not isinstance(head, nn.Module):  # not a Hugging Face LM: every position's logits
            full = model(input_ids=b.inputs, attention_mask=mask, **extra).logits[:, :-1]
            kept = full[valid]
            return Selected(kept, labels[valid], valid, lambda h: h, full[:, :0])
        caught: list[torch.Tensor] = []

        def keep(_m: nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
            states = args[0]
            caught.append(states[:, :-1][valid])
            return (states[:, :0], *args[1:])

        handle = head.register_forward_pre_hook(keep)
        try:
            anchor = model(input_ids=b.inputs, attention_mask=mask, **extra).logits
        finally:
            handle.remove()
        if len(caught) != 1:
            raise RuntimeError(f"{type(model).__name__}: its output layer ran {len(caught)} "
                               "times in one forward pass; expected once")
        return Selected(caught[0], labels[valid], valid, head, anchor)

    def token_logprobs(self, model: nn.Module, batch: Batch,
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) log-probabilities of the labelled tokens (0 elsewhere) and the (B, T) mask.

        Exactly ``log_softmax`` in float32 gathered at the labels, computed ``CHUNK``
        labelled positions at a time (tested against the full one).
        """
        sel = self.selected(model, batch)
        parts = []
        for i in range(0, len(sel.labels), CHUNK):
            h, y = sel.hidden[i:i + CHUNK], sel.labels[i:i + CHUNK]
            parts.append(checkpoint(_chunk_logprob, sel.head, h, y, use_reentrant=False)
                         if torch.is_grad_enabled() and h.requires_grad
                         else _chunk_logprob(sel.head, h, y))
        picked = torch.cat(parts) if parts else sel.hidden.new_zeros(0, dtype=torch.float32)
        return sel.spread(picked + 0 * sel.anchor.sum()), sel.valid

    def per_sample_loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        """Mean token NLL of each answer: padding and prompt tokens are never counted."""
        lp, valid = self.token_logprobs(model, batch)
        return -lp.sum(dim=1) / valid.sum(dim=1).clamp(min=1)

    def log_likelihood(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        """Sum of answer-token log-probabilities (NPO and DPO use sequence likelihoods)."""
        lp, _ = self.token_logprobs(model, batch)
        return lp.sum(dim=1)

    def logits(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        """(N, V) logits at the N answer positions of the batch, row-major."""
        return self.selected(model, batch).logits()

    def alternative_targets(self, model: nn.Module, batch: Batch,
                            generator: torch.Generator) -> Batch:
        """The same prompts answered with a refusal drawn uniformly from ``refusals``."""
        b = trim(batch)
        if b.mask is None:
            raise ValueError("causal-LM batches need an attention mask")
        rows = []
        pick = torch.randint(len(self.refusals), (len(b),), generator=generator).tolist()
        for i in range(len(b)):
            answer_at = torch.nonzero(b.targets[i] != IGNORE)
            start = int(answer_at[0]) if len(answer_at) else int(b.mask[i].sum())
            prompt = b.inputs[i, :start].tolist()
            answer = [*self.refusals[pick[i]], self.eos_id]
            rows.append((prompt + answer, [IGNORE] * len(prompt) + answer))
        width = max(len(ids) for ids, _ in rows)
        dev = b.inputs.device
        inputs = torch.full((len(rows), width), self.pad_id, dtype=torch.long, device=dev)
        targets = torch.full_like(inputs, IGNORE)
        mask = torch.zeros_like(inputs)
        for i, (ids, labels) in enumerate(rows):
            inputs[i, :len(ids)] = torch.tensor(ids, device=dev)
            targets[i, :len(ids)] = torch.tensor(labels, device=dev)
            mask[i, :len(ids)] = 1
        return Batch(inputs, targets, mask)

    def hidden(self, model: nn.Module, batch: Batch, module: str) -> torch.Tensor:
        b = trim(batch)
        return hidden_output(model, module,
                             lambda: model(input_ids=b.inputs, attention_mask=b.mask))
