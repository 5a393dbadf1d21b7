"""Random labelling (RL): fine-tune on the forget set relabelled at random, plus the retain set.

Golatkar et al., "Eternal Sunshine of the Spotless Net: Selective Forgetting in Deep
Networks", CVPR 2020; the RL baseline of Jia et al. 2023 (NeurIPS) and of Fan et al.,
"SalUn", ICLR 2024, whose RL objective (SalUn without its saliency mask) is
``E_{D_f} CE(x, y') + E_{D_r} CE(x, y)`` with ``y' != y`` random. Each step here takes one
forget batch with fresh wrong targets (``task.alternative_targets``) and one retain batch
(an endless shuffled stream over the retain set) and minimises the sum of their mean losses.

The SalUn reference code (``Classification/unlearn/RL.py``) reaches the same objective by
alternating a forget pass and a retain pass each epoch (CIFAR-10) or by shuffling the two
sets together (CIFAR-100); it draws labels with ``randint`` over all classes, which can hit
the true class 1/C of the time. We draw a wrong class, as the paper's ``y' != y`` says.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from obliviate.methods.common import check_nonnegative, check_positive, device_of, sgd
from obliviate.tasks.classification.training import epoch_batches
from obliviate.types import Batch, Split, Task, UnlearnData, UnlearnResult


@dataclass(frozen=True)
class RandomLabelConfig:
    # Defaults of the SalUn code's Classification/arg_parser.py (checked): --unlearn_epochs
    # 10, --unlearn_lr 0.01, --batch_size 256, --momentum 0.9, --weight_decay 5e-4, with a
    # constant lr (its MultiStepLR milestones 91,136 lie past 10 epochs). The paper's RL lr
    # search range could not be checked offline; SalUn's README runs its masked RL at 0.1.
    epochs: int = 10
    lr: float = 0.01
    batch_size: int = 256
    momentum: float = 0.9
    weight_decay: float = 5e-4

    def __post_init__(self) -> None:
        check_positive("RandomLabelConfig", epochs=self.epochs, lr=self.lr,
                       batch_size=self.batch_size)
        check_nonnegative("RandomLabelConfig", momentum=self.momentum,
                          weight_decay=self.weight_decay)


def unlearn(model: nn.Module, data: UnlearnData, cfg: RandomLabelConfig, *, task: Task,
            seed: int) -> UnlearnResult:
    opt = sgd(model, cfg.lr, cfg.momentum, cfg.weight_decay)
    dev = device_of(model)
    relabel = torch.Generator().manual_seed(seed + 2)
    retain = _endless(data.retain, cfg.batch_size, seed + 1)
    model.train()
    for _, forget in epoch_batches(data.forget, cfg.batch_size, cfg.epochs, seed):
        wrong = task.alternative_targets(model, forget.to(dev), relabel)
        loss = (task.per_sample_loss(model, wrong).mean()
                + task.per_sample_loss(model, next(retain).to(dev)).mean())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    return UnlearnResult(model)


def _endless(split: Split, batch_size: int, seed: int) -> Iterator[Batch]:
    """Shuffled passes over ``split`` without end (the order depends only on ``seed``)."""
    for _, batch in epoch_batches(split, batch_size, sys.maxsize, seed):
        yield batch
