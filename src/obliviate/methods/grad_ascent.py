"""Gradient ascent on the forget set (GA, "NegGrad").

Thudi et al., "Unrolling SGD: Understanding Factors Influencing Machine Unlearning",
EuroS&P 2022; the GA baseline of Jia et al. 2023 (5 epochs, lr searched in [1e-5, 1e-3]).
Maximises the forget-set loss; nothing anchors the retain set, so it can collapse utility.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from obliviate.methods.common import check_positive, device_of, sgd
from obliviate.tasks.classification.training import epoch_batches
from obliviate.types import Task, UnlearnData, UnlearnResult


@dataclass(frozen=True)
class GradAscentConfig:
    epochs: int = 5  # Jia et al. 2023, App. C.2
    lr: float = 1e-4  # middle of Jia et al.'s search range [1e-5, 1e-3]
    batch_size: int = 256
    momentum: float = 0.9
    weight_decay: float = 5e-4

    def __post_init__(self) -> None:
        check_positive("GradAscentConfig", epochs=self.epochs, lr=self.lr,
                       batch_size=self.batch_size)


def unlearn(model: nn.Module, data: UnlearnData, cfg: GradAscentConfig, *, task: Task,
            seed: int) -> UnlearnResult:
    opt = sgd(model, cfg.lr, cfg.momentum, cfg.weight_decay)
    dev = device_of(model)
    model.train()
    for _, batch in epoch_batches(data.forget, cfg.batch_size, cfg.epochs, seed):
        loss = -task.per_sample_loss(model, batch.to(dev)).mean()  # ascend the forget loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    return UnlearnResult(model)
