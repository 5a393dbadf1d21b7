"""TNPO / WTNPO: negative preference optimization applied to every answer token.

Wang, Zhou, Zhou, Shin, Han and Weinberger, "Rethinking LLM Unlearning Objectives: A Gradient
Perspective and Go Beyond", ICLR 2025. NPO weighs the gradient ascent of a whole answer by
``2 sigmoid(beta * log-ratio)`` of its SEQUENCE likelihood, so one token made unlikely is
enough to stop the update of every other token of the answer (their G-effect analysis). TNPO
gives each answer token ``t`` its own NPO weight,
``w_t = 2 p_t^beta / (p_t^beta + p_ref,t^beta) = 2 sigmoid(beta * (log p_t - log p_ref,t))``
(``losses.tnpo_token_weights``), and WTNPO multiplies it by ``p_t^alpha`` (``alpha = 0`` is
TNPO). The forget loss is ``mean_t(w_t * log p_t)`` with ``w_t`` held constant, over every
answer token of the batch: its gradient is ``sum_t w_t grad log p_t`` / n, which for
``alpha = 0`` is the gradient of token-wise NPO, ``mean_t -(2/beta) log sigmoid(-beta *
(log p_t - log p_ref,t))``. Reference: tmlr-group/G-effect ``dataloader.py``, loss types
``ins_npo`` (TNPO) and ``w_ins_npo`` (WTNPO, beta fixed at 0.1) (checked; their weights add
1e-5 to the denominator, ours use the exact sigmoid). Plus ``retain_weight`` times the retain
NLL, as NPO+RT; training as TOFU's (``paired.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from obliviate.losses import tnpo_token_weights
from obliviate.methods.common import check_nonnegative, check_positive
from obliviate.methods.paired import answer_rows, frozen_copy, run_paired
from obliviate.types import Batch, Task, UnlearnData, UnlearnResult


@dataclass(frozen=True)
class TNPOConfig:
    # The authors' runs (G-effect basher1.py and config/forget.yaml, checked): Llama-2-7B at
    # lr 1e-5, 5 epochs, batch 4 x 4 accumulation = 16, weight decay 0, forget loss only;
    # beta is their --hyper (README example 2). Warm-up one epoch as TOFU's trainer. The
    # retain term (NPO+RT's) is off by default, as in their objective.
    beta: float = 2.0
    alpha: float = 0.0  # WTNPO's extra p^alpha weight; 0 is TNPO
    epochs: int = 5
    lr: float = 1e-5
    batch_size: int = 16
    weight_decay: float = 0.0
    warmup_epochs: float = 1.0
    forget_weight: float = 1.0
    retain_weight: float = 0.0

    def __post_init__(self) -> None:
        check_positive("TNPOConfig", beta=self.beta, epochs=self.epochs, lr=self.lr,
                       batch_size=self.batch_size, forget_weight=self.forget_weight)
        check_nonnegative("TNPOConfig", alpha=self.alpha, weight_decay=self.weight_decay,
                          warmup_epochs=self.warmup_epochs, retain_weight=self.retain_weight)


def token_logprobs(task: Task, model: nn.Module, batch: Batch) -> torch.Tensor:
    """log p of every answer token of the batch, one per row of ``task.logits``."""
    labels, _ = answer_rows(batch)
    logp = torch.log_softmax(task.logits(model, batch).float(), dim=-1)
    return logp.gather(1, labels[:, None]).squeeze(1)


def unlearn(model: nn.Module, data: UnlearnData, cfg: TNPOConfig, *, task: Task,
            seed: int) -> UnlearnResult:
    ref = frozen_copy(model)

    def step(forget: Batch, retain: Batch) -> torch.Tensor:
        with torch.no_grad():
            ref_logp = token_logprobs(task, ref, forget)
        logp = token_logprobs(task, model, forget)
        weights = tnpo_token_weights(logp.detach(), ref_logp, cfg.beta, cfg.alpha)
        loss = cfg.forget_weight * (weights * logp).mean()
        if cfg.retain_weight > 0:
            loss = loss + cfg.retain_weight * task.per_sample_loss(model, retain).mean()
        return loss

    info = run_paired(model, data, step, name="TNPO", epochs=cfg.epochs,
                      batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay,
                      warmup_epochs=cfg.warmup_epochs, seed=seed)
    return UnlearnResult(model, info)
