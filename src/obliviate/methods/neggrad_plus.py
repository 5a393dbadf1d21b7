"""NegGrad+: descend the retain loss while ascending the forget loss.

Kurmanji et al., "Towards Unbounded Machine Unlearning", NeurIPS 2023 (the SCRUB paper's
NegGrad+ baseline). Per step, with ``beta`` weighting the two sets,
``loss = beta * (L_r + anchor) - (1 - beta) * L_f``. As in the reference code
(meghdadk/SCRUB, ``small_scale_unlearning.ipynb``, ``run_neggrad_epoch``), an epoch is one
pass over the retain set with forget batches drawn from an endless stream, and ``anchor`` is
``anchor_decay / 2 * ||theta - theta_original||^2``, a pull towards the original weights.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from obliviate.errors import ObliviateError
from obliviate.methods.common import (
    check_fraction,
    check_nonnegative,
    check_positive,
    device_of,
    sgd,
)
from obliviate.tasks.classification.training import epoch_batches
from obliviate.types import Batch, Split, Task, UnlearnData, UnlearnResult


@dataclass(frozen=True)
class NegGradPlusConfig:
    # Every default is the SCRUB reference notebook's NegGrad+ cell (checked):
    beta: float = 0.95  # args.ng_alpha = 0.95 (the weight of the retain loss)
    epochs: int = 10  # args.ng_epochs = 10
    lr: float = 0.01  # args.ng_lr = 0.01
    batch_size: int = 128  # retain batches: args.batch_size (--batch-size 128)
    forget_batch_size: int = 64  # args.forget_bs = 64
    momentum: float = 0.0  # torch.optim.SGD(lr=lr, weight_decay=0.0): no momentum
    weight_decay: float = 0.0  # ditto; the anchor below replaces weight decay
    # l2_penalty(model, model_init, args.weight_decay) with --weight-decay 0.1 in that run
    anchor_decay: float = 0.1

    def __post_init__(self) -> None:
        check_fraction("NegGradPlusConfig", beta=self.beta)
        check_positive("NegGradPlusConfig", epochs=self.epochs, lr=self.lr,
                       batch_size=self.batch_size, forget_batch_size=self.forget_batch_size)
        check_nonnegative("NegGradPlusConfig", momentum=self.momentum,
                          weight_decay=self.weight_decay, anchor_decay=self.anchor_decay)


def unlearn(model: nn.Module, data: UnlearnData, cfg: NegGradPlusConfig, *, task: Task,
            seed: int) -> UnlearnResult:
    opt = sgd(model, cfg.lr, cfg.momentum, cfg.weight_decay)
    dev = device_of(model)
    params = [p for p in model.parameters() if p.requires_grad]
    original = [p.detach().clone() for p in params] if cfg.anchor_decay > 0 else []
    forget = _endless(data.forget, cfg.forget_batch_size, seed + 1)
    model.train()
    for step, (_, retain) in enumerate(epoch_batches(data.retain, cfg.batch_size, cfg.epochs,
                                                     seed)):
        retain_loss = task.per_sample_loss(model, retain.to(dev)).mean()
        if original:
            retain_loss = retain_loss + cfg.anchor_decay / 2 * sum(
                ((p - p0) ** 2).sum() for p, p0 in zip(params, original, strict=True))
        forget_loss = task.per_sample_loss(model, next(forget).to(dev)).mean()
        loss = cfg.beta * retain_loss - (1 - cfg.beta) * forget_loss
        if not torch.isfinite(loss):  # the ascent term is unbounded: say so, never return NaNs
            raise _diverged(cfg, f"loss {loss.item()} at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if not all(bool(torch.isfinite(p).all()) for p in params):
        raise _diverged(cfg, "non-finite weights after the last step")
    model.eval()
    return UnlearnResult(model)


def _diverged(cfg: NegGradPlusConfig, what: str) -> ObliviateError:
    return ObliviateError(f"NegGrad+ diverged ({what}): lower lr ({cfg.lr}), raise beta "
                          f"({cfg.beta}) or use fewer epochs ({cfg.epochs})")


def _endless(split: Split, batch_size: int, seed: int) -> Iterator[Batch]:
    """Shuffled passes over ``split`` without end (the order depends only on ``seed``)."""
    for _, batch in epoch_batches(split, batch_size, sys.maxsize, seed):
        yield batch

