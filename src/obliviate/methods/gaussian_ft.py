"""Gaussian fine-tuning for regression (Tarun et al., "Deep Regression Unlearning", ICML 2023).

The regression form of random-label unlearning: every forget sample's target is replaced by a
draw from N(mean, sd^2), the Gaussian with the mean and standard deviation of all training
targets (forget and retain), drawn once; then the original is fine-tuned on the whole
training set, relabelled forget samples and retain samples shuffled together. A target drawn
from the targets' own distribution is plausible for any input and says nothing about the
sample, so the model unlearns what it memorised of it without being pushed to extremes.

Reference (ayushkumartarun/deep-regression-unlearning, ``AgeDB_AllCNN_0to30_forgetting.ipynb``,
the "Gaussian-Amnesiac" cells, checked): ``mean = df_train['age'].mean()``, ``sd =
df_train['age'].std()`` (pandas: ddof = 1) over the training set including the forget rows,
``np.random.normal(mean, sd)`` per forget row, then ``fit_one_cycle(1 epoch, lr=0.001)`` (Adam)
over the relabelled training set with ``batch_size=256``. Its loss is L1, its task loss; here
the task's loss (squared error), the loss the original was trained with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from obliviate.methods.common import check_positive, device_of
from obliviate.tasks.classification.training import epoch_batches
from obliviate.types import Split, Task, UnlearnData, UnlearnResult


@dataclass(frozen=True)
class GaussianFTConfig:
    epochs: int = 1  # notebook: fit_one_cycle(epochs=1, amn_model, ...)
    lr: float = 1e-3  # notebook: lr = 0.001, Adam (utils.fit_one_cycle)
    batch_size: int = 256  # notebook: amnesiac_finetune_train_loader batch_size=256

    def __post_init__(self) -> None:
        check_positive("GaussianFTConfig", epochs=self.epochs, lr=self.lr,
                       batch_size=self.batch_size)


def gaussian_targets(all_targets: torch.Tensor, n: int, generator: torch.Generator,
                     ) -> torch.Tensor:
    """``n`` draws of mean + sd * z, z standard normal from ``generator``, with the mean and
    the sample standard deviation (ddof 1, pandas' ``std``) of ``all_targets``."""
    t = all_targets.to(torch.float64)
    if len(t) < 2:
        raise ValueError("gaussian_targets: need at least 2 training targets for a standard "
                         "deviation")
    z = torch.randn(n, generator=generator, dtype=torch.float64)
    return (t.mean() + t.std(correction=1) * z).to(all_targets.dtype)


def unlearn(model: nn.Module, data: UnlearnData, cfg: GaussianFTConfig, *, task: Task,
            seed: int) -> UnlearnResult:
    f, r = data.forget, data.retain
    if not f.targets.is_floating_point() or f.targets.ndim != 1:
        raise ValueError("gaussian_ft needs one real-valued target per sample (regression)")
    labels = gaussian_targets(torch.cat([f.targets, r.targets]), len(f),
                              torch.Generator().manual_seed(seed + 1))
    both = Split("gaussian_ft", torch.cat([f.inputs, r.inputs]), torch.cat([labels, r.targets]),
                 np.concatenate([f.ids, r.ids]))
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    dev = device_of(model)
    model.train()
    for _, batch in epoch_batches(both, cfg.batch_size, cfg.epochs, seed):
        loss = task.per_sample_loss(model, batch.to(dev)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    return UnlearnResult(model, {"label_mean": float(labels.mean()),
                                 "label_sd": float(labels.std())})
