"""SCRUB: the student selectively disobeys the teacher.

Kurmanji et al., "Towards Unbounded Machine Unlearning", NeurIPS 2023. The teacher is the
frozen original; the student (the model) alternates, epoch by epoch, a max-step pass over
the forget set that ascends KL(teacher || student), for the first ``msteps`` epochs only,
and a min-step pass over the retain set that descends ``gamma * CE + alpha * KL``.
Defaults are the reference code's CIFAR-10 settings, meghdadk/SCRUB
``large_scale_unlearning.ipynb`` (verified), with its losses from
``thirdparty/repdistiller/helper/loops.py::train_distill`` and its step schedule from
``helper/util.py::adjust_learning_rate``.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass

import torch
from torch import nn

from obliviate.losses import kl_to_teacher
from obliviate.methods.common import check_nonnegative, check_positive, device_of, sgd
from obliviate.tasks.classification.training import epoch_batches
from obliviate.types import Batch, Split, Task, UnlearnData, UnlearnResult


@dataclass(frozen=True)
class ScrubConfig:
    sgda_epochs: int = 3  # notebook: args.sgda_epochs = 3
    msteps: int = 2  # notebook: args.msteps = 2 (max-steps in epochs 1..msteps)
    lr: float = 5e-4  # notebook: args.sgda_learning_rate = 0.0005
    alpha: float = 0.001  # notebook: args.alpha, weight of KL on retain
    gamma: float = 0.99  # notebook: args.gamma, weight of CE on retain
    kd_T: float = 4.0  # notebook: args.kd_T = 4 (DistillKL temperature, loss scaled by T^2)
    retain_batch_size: int = 128  # notebook: args.sgda_batch_size = 128 (its loader: 256)
    forget_batch_size: int = 32  # notebook: args.del_batch_size = 32 (its loader: 512)
    momentum: float = 0.9  # notebook: args.sgda_momentum = 0.9
    weight_decay: float = 5e-4  # notebook: args.sgda_weight_decay = 5e-4
    lr_decay_epochs: tuple[int, ...] = (3, 5, 9)  # notebook: args.lr_decay_epochs = [3,5,9]
    lr_decay_rate: float = 0.1  # notebook: args.lr_decay_rate = 0.1

    def __post_init__(self) -> None:
        check_positive("ScrubConfig", sgda_epochs=self.sgda_epochs, lr=self.lr, kd_T=self.kd_T,
                       retain_batch_size=self.retain_batch_size,
                       forget_batch_size=self.forget_batch_size,
                       lr_decay_rate=self.lr_decay_rate)
        if not 0 <= self.msteps <= self.sgda_epochs:
            raise ValueError(f"ScrubConfig: msteps={self.msteps} must be in "
                             f"[0, sgda_epochs={self.sgda_epochs}]")
        check_nonnegative("ScrubConfig", alpha=self.alpha, gamma=self.gamma,
                          weight_decay=self.weight_decay)
        if not 0 <= self.momentum < 1:
            raise ValueError(f"ScrubConfig: momentum={self.momentum} must be in [0, 1)")


def step_lr(cfg: ScrubConfig, epoch: int) -> float:
    """Learning rate of 1-based ``epoch``: decayed once per milestone it has passed."""
    passed = sum(epoch > m for m in cfg.lr_decay_epochs)
    return cfg.lr * cfg.lr_decay_rate ** passed


def unlearn(model: nn.Module, data: UnlearnData, cfg: ScrubConfig, *, task: Task,
            seed: int) -> UnlearnResult:
    dev = device_of(model)
    teacher = copy.deepcopy(model).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    opt = sgd(model, cfg.lr, cfg.momentum, cfg.weight_decay)
    forget_epochs = _epochs(data.forget, cfg.forget_batch_size, cfg.msteps, seed)
    retain_epochs = _epochs(data.retain, cfg.retain_batch_size, cfg.sgda_epochs, seed + 1)
    model.train()
    for epoch in range(1, cfg.sgda_epochs + 1):
        for group in opt.param_groups:
            group["lr"] = step_lr(cfg, epoch)
        if epoch <= cfg.msteps:  # max-steps: move away from the teacher on the forget set
            for _, batch in next(forget_epochs)[1]:
                b = batch.to(dev)
                loss = -_kl(model, teacher, b, task, cfg.kd_T)
                _step(opt, loss)
        for _, batch in next(retain_epochs)[1]:  # min-steps: stay close on the retain set
            b = batch.to(dev)
            # Two forwards (logits, then loss): the Task interface keeps this LM-agnostic.
            loss = (cfg.gamma * task.per_sample_loss(model, b).mean()
                    + cfg.alpha * _kl(model, teacher, b, task, cfg.kd_T))
            _step(opt, loss)
    model.eval()
    return UnlearnResult(model)


def _kl(model: nn.Module, teacher: nn.Module, batch: Batch, task: Task, t: float,
        ) -> torch.Tensor:
    with torch.no_grad():
        target = task.logits(teacher, batch)
    return kl_to_teacher(task.logits(model, batch), target, t)


def _step(opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def _epochs(split: Split, batch_size: int, epochs: int, seed: int,
            ) -> itertools.groupby[int, tuple[int, Batch]]:
    """Shuffled epochs of ``split``, one group of (epoch, batch) pairs per ``next``."""
    return itertools.groupby(epoch_batches(split, batch_size, epochs, seed), key=lambda t: t[0])
