"""Training a causal LM until it answers its training questions exactly (TOFU's fine-tuning).

Exact match is judged on whole answers, not token accuracy (filler tokens inflate the latter).
It is read off one teacher-forced pass: greedy decoding reproduces ``a [EOS]`` exactly iff the
argmax is right at every answer position, because each greedy step then sees the true prefix.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from obliviate.tasks.causal_lm.task import CausalLMTask
from obliviate.types import Batch, Split

log = logging.getLogger("obliviate")


# Stop once the rate has been halved past this: the model has converged below the target.
# A module constant, not an LMRecipe field, so cached models' keys (asdict(recipe)) hold.
MIN_LR_SCALE = 1 / 16


@dataclass(frozen=True)
class LMRecipe:
    """AdamW with linear warm-up, then a constant rate (halved on a plateau), until the
    exact-match target."""

    max_epochs: int = 200
    lr: float = 3e-3
    batch_size: int = 32
    weight_decay: float = 0.0
    warmup_steps: int = 200
    target_exact_match: float = 0.95  # the bar: >= 95% of training questions exactly
    check_every: int = 5  # epochs between exact-match checks
    # Halve the rate after this many checks without a new best exact match: at a constant
    # 3e-3 the 200-person model hovered at 0.91-0.95 for 30 epochs (measured).
    plateau_checks: int = 2

    def __post_init__(self) -> None:
        if min(self.max_epochs, self.batch_size, self.check_every, self.plateau_checks) < 1:
            raise ValueError(f"LMRecipe: max_epochs={self.max_epochs}, batch_size="
                             f"{self.batch_size}, check_every={self.check_every}, "
                             f"plateau_checks={self.plateau_checks} must be >= 1")
        if not 0 < self.target_exact_match <= 1 or self.lr <= 0:
            raise ValueError(f"LMRecipe: target_exact_match={self.target_exact_match} must be "
                             f"in (0, 1] and lr={self.lr} > 0")


@torch.no_grad()
def exact_match(model: nn.Module, split: Split, task: CausalLMTask,
                batch_size: int = 256) -> np.ndarray:
    """(n,) bool: greedy decoding would reproduce each row's labelled tokens exactly."""
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    out = []
    for batch in split.batches(batch_size):
        logits, labels = task.shifted(model, batch.to(dev))
        valid = labels != -100
        ok = (logits.argmax(-1) == labels) | ~valid
        out.append(ok.all(dim=1).cpu().numpy())
    model.train(was_training)
    return np.concatenate(out)


def grouped_batches(split: Split, batch_size: int, epochs: int, seed: int,
                    bucket: int = 32) -> Iterator[tuple[int, Batch]]:
    """(epoch, batch) with rows of similar length batched together, in a seeded order.

    A batch costs as much as its longest row: one 130-token biography among 16-token
    questions makes the whole batch 130 wide. Rows go to buckets of ``bucket`` tokens
    (questions in one, biographies in others); each epoch draws random batches within each
    bucket and shuffles all batches. Composition changes every epoch, unlike a full sort.
    """
    gen = torch.Generator().manual_seed(seed)
    lengths = (split.mask.sum(dim=1) if split.mask is not None
               else torch.full((len(split),), split.inputs.shape[1]))
    keys = (lengths - 1) // bucket
    groups = [torch.nonzero(keys == k).squeeze(1) for k in torch.unique(keys)]
    for epoch in range(epochs):
        batches = []
        for g in groups:
            g = g[torch.randperm(len(g), generator=gen)]
            batches += [g[i:i + batch_size] for i in range(0, len(g), batch_size)]
        for b in torch.randperm(len(batches), generator=gen).tolist():
            idx = batches[b]
            mask = None if split.mask is None else split.mask[idx]
            yield epoch, Batch(split.inputs[idx], split.targets[idx], mask)


def train_lm(model: nn.Module, split: Split, task: CausalLMTask, recipe: LMRecipe, *,
             seed: int, judge: Split | None = None, desc: str = "train",
             progress: bool = True) -> dict[str, float]:
    """Train in place until exact match on ``judge`` (default ``split``) reaches the target.

    Returns ``{"epochs": ..., "exact_match": ...}``; logs a warning if ``max_epochs`` ran out
    first (the record keeps the exact match reached, so a weak original is visible).
    """
    judge = judge or split
    dev = next(model.parameters()).device
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    model.train()
    epoch, em = 0, 0.0
    bar = tqdm(total=recipe.max_epochs, desc=desc, unit="epoch", disable=not progress,
               leave=False)
    last, best, stale, scale = -1, -1.0, 0, 1.0
    batches = grouped_batches(split, recipe.batch_size, recipe.max_epochs, seed)
    for step, (epoch, batch) in enumerate(batches):
        if epoch != last:
            if epoch and epoch % recipe.check_every == 0:
                em = float(exact_match(model, judge, task).mean())
                bar.set_postfix(exact=f"{em:.3f}")
                if em >= recipe.target_exact_match:
                    # Say so, and let the bar end full: stopping at "18%" looks like a crash.
                    bar.total = bar.n
                    bar.refresh()
                    log.info("%s: target exact match %.2f reached at epoch %d (exact match "
                             "%.3f)", desc, recipe.target_exact_match, epoch, em)
                    break
                best, stale = (em, 0) if em > best else (best, stale + 1)
                if stale >= recipe.plateau_checks:
                    scale, stale = scale / 2, 0
                    if scale < MIN_LR_SCALE:
                        # Converged below the target: more halvings only burn epochs
                        # (measured: a people-small retrain sat at 0.908 from epoch ~50 to
                        # 200, 36 min, its rate halved 15 times).
                        log.warning("%s: exact match %.3f stopped improving at epoch %d "
                                    "(rate halved %d times), below the target %.2f", desc,
                                    best, epoch, round(math.log2(1 / scale)),
                                    recipe.target_exact_match)
                        break
            bar.update(1)
            last = epoch
        for g in opt.param_groups:
            g["lr"] = recipe.lr * scale * min(1.0, (step + 1) / recipe.warmup_steps)
        loss = task.per_sample_loss(model, batch.to(dev)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    else:
        em = float(exact_match(model, judge, task).mean())
        epoch = recipe.max_epochs
        if em < recipe.target_exact_match:
            log.warning("%s: exact match %.3f after %d epochs, below the target %.2f",
                        desc, em, epoch, recipe.target_exact_match)
    bar.close()
    model.eval()
    return {"epochs": float(epoch), "exact_match": em, "lr_scale": scale}
