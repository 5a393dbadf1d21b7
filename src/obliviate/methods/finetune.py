"""Fine-tuning on the retain set (FT).

Warnecke et al., "Machine Unlearning of Features and Labels", NDSS 2023; the FT baseline of
Jia et al., "Model Sparsity Can Simplify Machine Unlearning", NeurIPS 2023 (10 epochs,
learning rate searched in [0.01, 0.1]). Forgetting comes only from catastrophic forgetting.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from obliviate.methods.common import check_positive, device_of, sgd
from obliviate.tasks.classification.training import epoch_batches
from obliviate.types import Task, UnlearnData, UnlearnResult


@dataclass(frozen=True)
class FinetuneConfig:
    epochs: int = 10  # Jia et al. 2023, App. C.2
    lr: float = 0.01  # lower end of Jia et al.'s search range [0.01, 0.1]
    batch_size: int = 256  # the reference code's default
    momentum: float = 0.9
    weight_decay: float = 5e-4

    def __post_init__(self) -> None:
        check_positive("FinetuneConfig", epochs=self.epochs, lr=self.lr,
                       batch_size=self.batch_size)


def unlearn(model: nn.Module, data: UnlearnData, cfg: FinetuneConfig, *, task: Task,
            seed: int) -> UnlearnResult:
    opt = sgd(model, cfg.lr, cfg.momentum, cfg.weight_decay)
    dev = device_of(model)
    model.train()
    for _, batch in epoch_batches(data.retain, cfg.batch_size, cfg.epochs, seed):
        loss = task.per_sample_loss(model, batch.to(dev)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    return UnlearnResult(model)
