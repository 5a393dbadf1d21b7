"""Relearning attack: a few fine-tuning steps on part of the forget set bring back the rest?

Lynch et al., "Eight Methods to Evaluate Robust Unlearning in LLMs" (2024) and Hu et al.,
"Jogging the Memory of Unlearned LLMs Through Targeted Relearning Attacks" (ICLR 2025):
knowledge that was only suppressed returns on forget samples the attacker never showed,
while a model that never learned them (the oracle) gains only what the shown samples teach.
The same steps are applied to the oracle; its "after" value is the baseline to compare.
Defaults: 10% of the forget set (whole facts for a language model), 10 Adam steps at lr 1e-3.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from obliviate.attacks.target import ROLES, Target
from obliviate.methods.common import check_fraction, check_positive, device_of
from obliviate.types import Split


@dataclass(frozen=True)
class RelearnConfig:
    fraction: float = 0.1  # of the forget set (of its facts, for a language model)
    steps: int = 10
    lr: float = 1e-3  # Adam
    batch_size: int = 32

    def __post_init__(self) -> None:
        check_positive("RelearnConfig", fraction=self.fraction, steps=self.steps, lr=self.lr,
                       batch_size=self.batch_size)
        check_fraction("RelearnConfig", fraction=self.fraction)
        if self.fraction >= 1:
            raise ValueError(f"RelearnConfig: fraction={self.fraction} leaves nothing to test")


def split_forget(target: Target, fraction: float, seed: int) -> tuple[Split, Split]:
    """(shown, held out): a seeded ``fraction`` of the forget groups, and the rest."""
    rows = target.forget_rows()
    groups = target.groups(rows)
    unique = np.unique(groups)
    if len(unique) < 2:
        raise ValueError("the relearning attack needs at least 2 forget samples (facts): one "
                         "to relearn on and one to test")
    n_shown = min(len(unique) - 1, max(1, int(round(fraction * len(unique)))))
    shown = np.random.default_rng(seed).choice(unique, size=n_shown, replace=False)
    is_shown = np.isin(groups, shown)
    return (rows.subset(np.nonzero(is_shown)[0], "relearn"),
            rows.subset(np.nonzero(~is_shown)[0], "held-out forget"))


def relearned(model: nn.Module, shown: Split, target: Target, cfg: RelearnConfig,
              seed: int) -> nn.Module:
    """A copy of ``model`` after ``cfg.steps`` Adam steps on ``shown``."""
    out = copy.deepcopy(model)
    for p in out.parameters():
        p.requires_grad_(True)
    dev = device_of(out)
    opt = torch.optim.Adam(out.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(seed)
    out.train()
    step = 0
    while step < cfg.steps:
        for batch in shown.batches(cfg.batch_size, shuffle=True, generator=gen):
            loss = target.data.task.per_sample_loss(out, batch.to(dev)).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if step == cfg.steps:
                break
    return out.eval()


def attack(target: Target, cfg: RelearnConfig) -> dict[str, Any]:
    shown, rest = split_forget(target, cfg.fraction, target.seed)
    before = {r: target.score(m, rest) for r, m in target.models.items()}
    after = {r: target.score(relearned(m, shown, target, cfg, target.seed), rest)
             for r, m in target.models.items() if r in ROLES}
    return {"variants": {"relearn": {"before": before, "after": after}},
            "params": {"shown": len(shown), "held_out": len(rest)}}
