"""Bad teaching: distil from a competent and an incompetent teacher ("Bad-T", blindspot).

Chundawat et al., "Can Bad Teaching Induce Forgetting? Unlearning in Deep Networks Using an
Incompetent Teacher", AAAI 2023. The student (the model) is trained to match the frozen
original (the competent teacher) on retain samples and a randomly initialised copy (the
incompetent teacher) on forget samples, by KL divergence at temperature T, over one
shuffled stream mixing the forget set with a random part of the retain set.
Defaults are those of the authors' notebook, vikram2000b/bad-teaching-unlearning,
``CIFARSuper20_Rocket_Unlearn.ipynb`` (verified): 30% of the retain set, 1 epoch, Adam at
lr 1e-4, batch 256, KL temperature 1. The reference averages the KL over classes as well
(``F.kl_div``'s "mean"); Adam is invariant to that constant factor, so we keep the per-row
mean of ``kl_to_teacher``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from obliviate.losses import kl_to_teacher
from obliviate.methods.common import check_fraction, check_positive, device_of, fresh_weights
from obliviate.tasks.classification.training import epoch_batches
from obliviate.types import Batch, Split, Task, UnlearnData, UnlearnResult


@dataclass(frozen=True)
class BadTeacherConfig:
    retain_fraction: float = 0.3  # notebook: random.sample(retain_train, int(0.3 * len))
    epochs: int = 1  # notebook: UnLearner(..., epochs=1)
    lr: float = 1e-4  # notebook: torch.optim.Adam(student.parameters(), lr=0.0001)
    batch_size: int = 256  # notebook: UnLearner(..., batch_size=256)
    temperature: float = 1.0  # notebook: KL_temperature = 1

    def __post_init__(self) -> None:
        check_positive("BadTeacherConfig", retain_fraction=self.retain_fraction,
                       epochs=self.epochs, lr=self.lr, batch_size=self.batch_size,
                       temperature=self.temperature)
        check_fraction("BadTeacherConfig", retain_fraction=self.retain_fraction)


def incompetent_copy(model: nn.Module, seed: int) -> nn.Module:
    """A frozen copy of ``model`` with fresh weights (the same seed, the same weights): the
    paper's randomly initialised teacher of the same architecture. For a language model it
    predicts next tokens about uniformly, as the paper's random network predicts classes."""
    bad = copy.deepcopy(model)
    fresh_weights(bad, seed)
    return _frozen(bad)


def unlearn(model: nn.Module, data: UnlearnData, cfg: BadTeacherConfig, *, task: Task,
            seed: int) -> UnlearnResult:
    dev = device_of(model)
    good, bad = _frozen(copy.deepcopy(model)), incompetent_copy(model, seed)
    gen = torch.Generator().manual_seed(seed)
    n_keep = max(1, int(cfg.retain_fraction * len(data.retain)))
    keep = torch.randperm(len(data.retain), generator=gen)[:n_keep]
    n_f = len(data.forget)
    # One shuffled stream over row numbers; each row points into forget or retain, so the
    # two splits are never concatenated (token batches of a language model may differ).
    is_forget = torch.cat([torch.ones(n_f, dtype=torch.long),
                           torch.zeros(n_keep, dtype=torch.long)])
    position = torch.cat([torch.arange(n_f), keep])
    rows = Split("bad_teacher", torch.arange(n_f + n_keep), is_forget, np.arange(n_f + n_keep))
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    model.train()
    for _, idx in epoch_batches(rows, cfg.batch_size, cfg.epochs, seed):
        total, n_rows = torch.zeros((), device=dev), 0
        for split, teacher, chosen in ((data.forget, bad, idx.targets == 1),
                                       (data.retain, good, idx.targets == 0)):
            if not bool(chosen.any()):
                continue
            part = split.subset(position[idx.inputs[chosen]].numpy())
            batch = Batch(part.inputs, part.targets, part.mask).to(dev)
            with torch.no_grad():
                target = task.logits(teacher, batch)
            student = task.logits(model, batch)
            # KL(teacher || student), the paper's Eq. 2; summed here, averaged over rows below
            total = total + kl_to_teacher(student, target, cfg.temperature) * student.shape[0]
            n_rows += int(student.shape[0])
        loss = total / n_rows
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    return UnlearnResult(model, {"retain_used": float(n_keep)})


def _frozen(model: nn.Module) -> nn.Module:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
