"""The only code that runs language models for evaluation: one pass per sequence.

``score`` is one teacher-forced pass over each sequence and keeps, per labelled token, what
every LM metric needs (log-probability, the mean and spread of the model's own log-probs for
Min-K%++, whether the argmax is right). ``greedy`` decodes with a KV cache from left-padded
prompts. ``grad_norms`` is one forward and backward per sequence (the GradNorm attack).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from obliviate.metrics.lm_inputs import TokenScores
from obliviate.tasks.causal_lm.task import CHUNK, IGNORE, CausalLMTask
from obliviate.types import Batch, Split


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


class _DropPaddingAdvice(logging.Filter):
    """Drops transformers' "pass an attention_mask" advice, which ``generate`` triggers itself.

    When every prompt of a batch has the same length, ``generate`` drops the all-ones mask;
    a row that ends early is then fed the pad id after its EOS, and GPT-2 advises passing a
    mask. Those pads only follow an EOS, which ``_decode`` cuts at, and batched decoding
    equals one prompt at a time (tested), so the advice is wrong here; every other message
    passes.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "recommend passing in an `attention_mask`" not in record.getMessage()


@contextmanager
def _no_padding_advice() -> Iterator[None]:
    log = logging.getLogger("transformers.modeling_utils")
    f = _DropPaddingAdvice()
    log.addFilter(f)
    try:
        yield
    finally:
        log.removeFilter(f)


def by_length(split: Split, batch_size: int) -> Iterator[np.ndarray]:
    """Row indices in batches of similar length (longest first): a batch costs as much as
    its longest row, so one biography among short answers would widen the whole batch."""
    lengths = (split.mask.sum(dim=1).numpy() if split.mask is not None
               else np.full(len(split), split.inputs.shape[1]))
    order = np.argsort(-lengths, kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


@torch.no_grad()
def score(model: nn.Module, task: CausalLMTask, split: Split,
          batch_size: int = 64) -> list[TokenScores]:
    """TokenScores of every row's labelled tokens, in row order.

    The output layer runs at labelled positions only (``CausalLMTask.selected``), ``CHUNK``
    positions at a time, in float32; the spread of log p(z) is taken as
    sqrt(E[(log p - mu)^2]) (two passes), which float32 keeps to 1e-5 of the float64
    one-pass formula (tested), where E[log p^2] - mu^2 would cancel.
    """
    model.eval()
    out: list[TokenScores | None] = [None] * len(split)
    for idx in by_length(split, batch_size):
        t = torch.from_numpy(idx)
        batch = Batch(split.inputs[t], split.targets[t],
                      None if split.mask is None else split.mask[t])
        sel = task.selected(model, batch.to(_device(model)))
        cols = _chunk_stats(sel.head, sel.hidden, sel.labels)
        counts = sel.valid.sum(dim=1).tolist()
        per_row = [c.split(counts) for c in cols]
        for k, row in enumerate(idx.tolist()):
            out[row] = TokenScores(*(per_row[j][k].numpy() for j in range(4)))
    return [s for s in out if s is not None]


def _chunk_stats(head: Callable[[torch.Tensor], torch.Tensor], hidden: torch.Tensor,
                labels: torch.Tensor) -> list[torch.Tensor]:
    """(log p of each label, mu, sigma, argmax right) at (N, H) hidden states, on the CPU."""
    cols: list[list[torch.Tensor]] = [[], [], [], []]
    for i in range(0, len(labels), CHUNK):
        logits = head(hidden[i:i + CHUNK]).float()
        y = labels[i:i + CHUNK]
        logp = torch.log_softmax(logits, dim=-1)
        p = logp.exp()
        mu = (p * logp).sum(-1)  # E_z[log p(z)] under the model's next-token distribution
        sigma = (p * (logp - mu.unsqueeze(-1)).pow(2)).sum(-1).sqrt()
        for c, v in zip(cols, (logp.gather(-1, y.unsqueeze(-1)).squeeze(-1), mu, sigma,
                               logits.argmax(-1) == y), strict=True):
            c.append(v.cpu())
    empty = (torch.zeros(0), torch.zeros(0), torch.zeros(0), torch.zeros(0, dtype=torch.bool))
    return [torch.cat(c) if c else e for c, e in zip(cols, empty, strict=True)]


@torch.no_grad()
def score_answers(model: nn.Module, task: CausalLMTask,
                  groups: Sequence[tuple[Sequence[int], Sequence[Sequence[int]]]],
                  ) -> list[list[TokenScores]]:
    """For each (prompt, answers): the TokenScores of every answer's tokens after the prompt.

    Equal to ``score`` on the rows prompt + answer (tested), at a fraction of the cost: the
    prompt runs once, and its KV cache is shared by all its answers (a question has its
    answer, a paraphrase and several perturbed answers; with a chat template's system turn,
    the prompt is most of each row). The first answer token is predicted by the prompt's
    last position; the rest by the answers' own pass.
    """
    model.eval()
    dev = _device(model)
    out: list[list[TokenScores]] = []
    for prompt, answers in groups:
        if not prompt or not answers or not all(answers):
            raise ValueError("score_answers needs a non-empty prompt and non-empty answers")
        first = model(input_ids=torch.tensor([list(prompt)], device=dev), use_cache=True,
                      logits_to_keep=1)
        cache = getattr(first, "cache", None)
        cache = first.past_key_values if cache is None else cache
        cache.batch_repeat_interleave(len(answers))
        width = max(len(a) for a in answers)
        ids = torch.full((len(answers), width), task.pad_id, dtype=torch.long)
        labels = torch.full_like(ids, IGNORE)
        mask = torch.zeros_like(ids)
        for i, a in enumerate(answers):
            ids[i, :len(a)] = torch.tensor(list(a))
            labels[i, :len(a)] = ids[i, :len(a)]
            mask[i, :len(a)] = 1
        sel = task.selected(model, Batch(ids, labels, mask).to(dev), past=cache,
                            past_len=len(prompt))
        rest = _chunk_stats(sel.head, sel.hidden, sel.labels)
        heads = _chunk_stats(lambda h: h, first.logits[0, -1:].expand(len(answers), -1),
                             ids[:, 0].to(dev))
        counts = sel.valid.sum(dim=1).tolist()
        rows = [c.split(counts) for c in rest]
        out.append([TokenScores(*(torch.cat([heads[j][i:i + 1], rows[j][i]]).numpy()
                                  for j in range(4))) for i in range(len(answers))])
    return out


@torch.no_grad()
def greedy(model: nn.Module, prompts: Sequence[Sequence[int]], max_new_tokens: int, *,
           pad_id: int, eos_id: int, batch_size: int = 64, rounds_of: int = 4,
           ) -> list[list[int]]:
    """Greedy continuations (without the prompt, cut before EOS) of every prompt.

    Decodes in rounds of ``rounds_of`` tokens and carries only unfinished rows into the next
    round: in one long batched decode, rows that already ended keep being computed until the
    slowest row ends (measured: up to 1.6x the passes needed on a damaged model). A round's
    first pass re-reads the prefix, and that pass yields its first token, so rounds cost no
    extra passes; a finished row idles at most ``rounds_of - 1`` steps.
    """
    model.eval()
    generated: list[list[int]] = [[] for _ in prompts]
    active = list(range(len(prompts)))
    while active:
        step = min(rounds_of, max_new_tokens - len(generated[active[0]]))
        new = _decode(model, [[*prompts[i], *generated[i]] for i in active], step,
                      pad_id=pad_id, eos_id=eos_id, batch_size=batch_size)
        still = []
        for i, tokens in zip(active, new, strict=True):
            if eos_id in tokens:
                generated[i] += tokens[:tokens.index(eos_id)]
            else:
                generated[i] += tokens
                if len(generated[i]) < max_new_tokens:
                    still.append(i)
        active = still
    return generated


def _decode(model: nn.Module, prompts: Sequence[Sequence[int]], max_new_tokens: int, *,
            pad_id: int, eos_id: int, batch_size: int) -> list[list[int]]:
    """One batched greedy decode with a KV cache; rows keep their EOS (and padding after)."""
    dev = _device(model)
    out: list[list[int]] = []
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start:start + batch_size]
        width = max(len(p) for p in chunk)
        ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, p in enumerate(chunk):  # left padding: every prompt ends at the same column
            ids[i, width - len(p):] = torch.tensor(list(p))
            mask[i, width - len(p):] = 1
        with _no_padding_advice():
            gen = model.generate(input_ids=ids.to(dev), attention_mask=mask.to(dev),  # type: ignore[operator]
                                 max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=pad_id, eos_token_id=eos_id)
        out += [row[:row.index(eos_id) + 1] if eos_id in row else row
                for row in gen[:, width:].tolist()]
    return out


def grad_norms(model: nn.Module, task: CausalLMTask, split: Split) -> np.ndarray:
    """(n,) L2 norm over all weights of the gradient of each row's mean token loss."""
    was = model.training
    model.eval()
    # Over every weight, whatever a method froze (a merged LoRA model comes back frozen).
    params = list(model.parameters())
    frozen = [not p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(True)
    norms = []
    try:
        for batch in split.batches(1):
            loss = task.per_sample_loss(model, batch.to(_device(model))).sum()
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            squares = [(g.double() ** 2).sum() for g in grads if g is not None]
            norms.append(float(torch.stack(squares).sum().sqrt()))
    finally:
        for p, f in zip(params, frozen, strict=True):
            p.requires_grad_(not f)
        model.train(was)
    return np.asarray(norms)
