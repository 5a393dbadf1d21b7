"""The causal-LM task: every quantity is taken over answer tokens only (DESIGN.md table)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from obliviate.tasks.classification.task import hidden_output
from obliviate.types import Batch

IGNORE = -100


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

    def shifted(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits predicting token t+1 at each position t, the labels they predict)."""
        b = trim(batch)
        logits = model(input_ids=b.inputs, attention_mask=b.mask).logits
        return logits[:, :-1], b.targets[:, 1:]

    def token_logprobs(self, model: nn.Module, batch: Batch,
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) log-probabilities of the labelled tokens (0 elsewhere) and the (B, T) mask."""
        logits, labels = self.shifted(model, batch)
        valid = labels != IGNORE
        lp = torch.log_softmax(logits.float(), dim=-1)
        picked = lp.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        return picked * valid, valid

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
        logits, labels = self.shifted(model, batch)
        return logits[labels != IGNORE]

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
