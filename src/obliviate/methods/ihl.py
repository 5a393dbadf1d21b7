"""Inverted hinge loss (IHL): lower each forget-answer token only until a rival overtakes it.

Cha, Cho, Hwang, Lee, Moon and Lee, "Towards Robust and Parameter-Efficient Knowledge
Unlearning for LLMs" (LoKU), ICLR 2025. ``losses.inverted_hinge_loss`` over the answer tokens
of each forget batch (one row per class decision of a classifier), plus ``retain_weight``
times the retain NLL. LoKU trains LoRA adapters with a Fisher-informed initialisation (FILA);
this file is the loss only: wrap the model with
``obliviate.tasks.causal_lm.models.add_lora`` first for the parameter-efficient variant
(FILA is not implemented). Training as TOFU's (``paired.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from obliviate.losses import inverted_hinge_loss
from obliviate.methods.common import check_nonnegative, check_positive
from obliviate.methods.paired import answer_rows, run_paired
from obliviate.types import Batch, Task, UnlearnData, UnlearnResult


@dataclass(frozen=True)
class IHLConfig:
    # LoKU's run_forget.sh as ported by open-unlearning (configs/trainer/LoKU.yaml, checked
    # there; the authors' script is not in our index): lr 1e-4 (for LoRA adapters), 5 epochs,
    # weight_decay 0.01, warm-up one epoch, batch 2 x 16 accumulation = 32, IHL weight 1 and
    # retain NLL weight 1 (their compute_loss: gamma * forget + alpha * retain).
    epochs: int = 5
    lr: float = 1e-4
    batch_size: int = 32
    weight_decay: float = 0.01
    warmup_epochs: float = 1.0
    forget_weight: float = 1.0
    retain_weight: float = 1.0

    def __post_init__(self) -> None:
        check_positive("IHLConfig", epochs=self.epochs, lr=self.lr, batch_size=self.batch_size,
                       forget_weight=self.forget_weight)
        check_nonnegative("IHLConfig", weight_decay=self.weight_decay,
                          warmup_epochs=self.warmup_epochs, retain_weight=self.retain_weight)


def unlearn(model: nn.Module, data: UnlearnData, cfg: IHLConfig, *, task: Task,
            seed: int) -> UnlearnResult:
    def step(forget: Batch, retain: Batch) -> torch.Tensor:
        labels, _ = answer_rows(forget)
        loss = cfg.forget_weight * inverted_hinge_loss(task.logits(model, forget), labels)
        if cfg.retain_weight > 0:
            loss = loss + cfg.retain_weight * task.per_sample_loss(model, retain).mean()
        return loss

    info = run_paired(model, data, step, name="IHL", epochs=cfg.epochs,
                      batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay,
                      warmup_epochs=cfg.warmup_epochs, seed=seed)
    return UnlearnResult(model, info)
