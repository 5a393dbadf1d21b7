"""The training loop the LM unlearning methods share (STYLE.md habit 3: compose, don't inherit).

TOFU's trainer (locuslab/tofu ``forget.py`` + ``dataloader.py``), which the NPO, SimNPO, LoKU
and FLAT reference repositories all fork: an epoch is one shuffled pass over the forget set,
each forget batch is paired with a retain batch (here from an endless shuffled stream over the
retain set), and AdamW runs with a linear warm-up over the first epoch then a linear decay to
zero (``transformers``' default schedule with ``warmup_steps = steps_per_epoch``). Methods pass
their loss as a function of the two batches; the loop knows nothing of their maths.
"""

from __future__ import annotations

import copy
import math
import sys
from collections.abc import Callable, Iterator

import torch
from torch import nn

from obliviate.errors import DivergedError
from obliviate.methods.common import device_of
from obliviate.tasks.causal_lm.task import IGNORE, trim
from obliviate.tasks.classification.training import epoch_batches
from obliviate.types import Batch, Split, UnlearnData

StepLoss = Callable[[Batch, Batch], torch.Tensor]  # (forget batch, retain batch) -> loss


def frozen_copy(model: nn.Module) -> nn.Module:
    """The reference model: a copy of the original, in eval mode, with no gradients."""
    ref = copy.deepcopy(model).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref


def endless(split: Split, batch_size: int, seed: int) -> Iterator[Batch]:
    """Shuffled passes over ``split`` without end (the order depends only on ``seed``)."""
    for _, batch in epoch_batches(split, batch_size, sys.maxsize, seed):
        yield batch


def answer_rows(batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """(label, sample index) of each row of ``task.logits(model, batch)``.

    A classifier has one row per sample, labelled with its class. A causal LM has one row per
    answer token, row-major after ``trim``, the order ``CausalLMTask.logits`` uses: position t
    predicts the label at t + 1, and only labelled positions are rows.
    """
    if batch.targets.dim() == 1:
        return batch.targets, torch.arange(len(batch), device=batch.targets.device)
    labels = trim(batch).targets[:, 1:]
    where = torch.nonzero(labels != IGNORE)  # row-major, as boolean indexing is
    return labels[where[:, 0], where[:, 1]], where[:, 0]


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up to 1 over ``warmup`` steps, then linear decay towards 0 at ``total``.

    ``transformers.get_linear_schedule_with_warmup`` shifted by one step: its first step runs
    at lr 0 (a wasted step when a forget set is a few batches), here the first is 1/warmup.
    """
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def run_paired(model: nn.Module, data: UnlearnData, loss_fn: StepLoss, *, name: str,
               epochs: int, batch_size: int, lr: float, weight_decay: float,
               warmup_epochs: float, seed: int) -> dict[str, float]:
    """Minimise ``loss_fn(forget_batch, retain_batch)`` with AdamW, in place; return info.

    Raises ``DivergedError`` (naming ``name`` and the step) the moment the loss is not finite:
    ascent-type objectives are unbounded below, and NaN weights must never be returned.
    """
    dev = device_of(model)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    per_epoch = math.ceil(len(data.forget) / batch_size)
    total = per_epoch * epochs
    warmup = max(1, round(warmup_epochs * per_epoch))
    retain = endless(data.retain, batch_size, seed + 1)
    model.train()
    loss = torch.zeros(())
    for step, (_, forget) in enumerate(epoch_batches(data.forget, batch_size, epochs, seed)):
        for group in opt.param_groups:
            group["lr"] = lr * lr_factor(step, total, warmup)
        loss = loss_fn(forget.to(dev), next(retain).to(dev))
        if not torch.isfinite(loss):
            raise DivergedError(f"{name} diverged: loss {loss.item()} at step {step}; lower "
                                f"lr ({lr}) or use fewer epochs ({epochs})")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    return {"steps": float(total), "final_loss": float(loss.detach())}
