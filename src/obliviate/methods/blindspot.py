"""Blindspot unlearning for regression (Tarun et al., "Deep Regression Unlearning", ICML 2023).

A randomly initialised model of the same architecture is trained for a few epochs on the
retain set only: the "blindspot" model knows what generalises from D_r and nothing of D_f.
Then the original is trained for one epoch over D_f and D_r shuffled together: on retain
samples towards their targets, on forget samples towards the blindspot model, matching its
outputs (L1) and its activations (attention transfer, Zagoruyko & Komodakis 2017, weighted by
``attention_beta``); each batch weighs the two parts by its share of forget samples.

Reference code (ayushkumartarun/deep-regression-unlearning, checked): ``unlearn.py``
(``forget_loss``, ``attention``, ``attention_diff``, ``fit_one_forget_cycle``), ``utils.py``
(``fit_one_cycle``), and the cells of ``AgeDB_AllCNN_0to30_forgetting.ipynb`` that run them.
Choices where the reference is specific to its models, or silent:

* The reference trains everything with the L1 loss, its task loss; here the retain term and
  the blindspot model's training use the task's loss (squared error for regression), the loss
  the original was trained with. The forget term matches outputs by L1, as the reference.
* Activations: the reference returns every block's output (post-activation); here every
  activation module's output (``nn.ReLU`` and kin) unless ``modules`` names others.
  ``attention`` averages squared activations over dim 1 (channels) of a (B, C, H, W) map;
  a (B, D) activation has no spatial positions and that mean would leave one number per
  sample, normalised to 1 (a loss of 0 whatever the model), so it is read as one channel over
  D positions: normalise(x^2) over D.
* The blindspot model's initial weights come from ``seed + BLINDSPOT_SEED_OFFSET``, not the
  run's seed: the oracle is initialised from the run's seed, and a blindspot model sharing its
  starting point would lend the unlearned model a head start towards the oracle that no real
  deletion request has.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from obliviate.errors import ObliviateError
from obliviate.methods.common import check_nonnegative, check_positive, device_of, fresh_weights
from obliviate.tasks.classification.training import epoch_batches
from obliviate.types import Batch, Split, Task, UnlearnData, UnlearnResult

BLINDSPOT_SEED_OFFSET = 7919  # a stream apart from the run seed (the oracle's initialisation)
ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid)


@dataclass(frozen=True)
class BlindspotConfig:
    # The notebook's cells: the blindspot model is fit_one_cycle(epochs=2, ...) on the retain
    # loader with fit_one_cycle's default lr=0.01 (Adam); the unlearning call is
    # fit_one_forget_cycle(epochs=1, ..., lr=0.001) (Adam); both loaders use batch_size=256;
    # forget_loss(..., AT_beta=50).
    blindspot_epochs: int = 2
    blindspot_lr: float = 0.01
    epochs: int = 1
    lr: float = 1e-3
    batch_size: int = 256
    attention_beta: float = 50.0
    modules: tuple[str, ...] = ()  # () = every activation module (see the module docstring)

    def __post_init__(self) -> None:
        check_positive("BlindspotConfig", blindspot_epochs=self.blindspot_epochs,
                       blindspot_lr=self.blindspot_lr, epochs=self.epochs, lr=self.lr,
                       batch_size=self.batch_size)
        check_nonnegative("BlindspotConfig", attention_beta=self.attention_beta)


def attention(x: torch.Tensor) -> torch.Tensor:
    """(B, P) attention map, each row of unit L2 norm: squared activations averaged over
    channels (dim 1) for maps of 3 or more dims, the squared activations themselves for a
    (B, D) layer (one channel over D positions)."""
    a = x.float().pow(2)
    a = a.mean(1).reshape(len(x), -1) if x.ndim > 2 else a.reshape(len(x), -1)
    return F.normalize(a, dim=1)


def attention_diff(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean over samples and positions of the squared difference of two attention maps."""
    return (attention(x) - attention(y)).pow(2).mean()


def blindspot_loss(out_f: torch.Tensor, target_f: torch.Tensor,
                   acts_f: list[torch.Tensor], target_acts_f: list[torch.Tensor],
                   retain_loss: torch.Tensor | None, n_forget: int, n_retain: int,
                   beta: float) -> torch.Tensor:
    """One batch's loss, ``fit_one_forget_cycle``: with c = n_forget / (n_forget + n_retain),
    ``c * (L1(out_f, target_f) + beta * sum_k attention_diff(acts_k, target_acts_k))
    + (1 - c) * retain_loss``. A part with no samples contributes 0."""
    c = n_forget / (n_forget + n_retain)
    parts = []
    if n_forget:
        forget = F.l1_loss(out_f, target_f)
        for a, b in zip(acts_f, target_acts_f, strict=True):
            forget = forget + beta * attention_diff(a, b)
        parts.append(c * forget)
    if n_retain and retain_loss is not None:
        parts.append((1 - c) * retain_loss)
    return torch.stack(parts).sum()


@contextmanager
def capturing(model: nn.Module, names: list[str]) -> Iterator[dict[str, torch.Tensor]]:
    """Within the block, the last output of each named submodule of ``model``."""
    named = dict(model.named_modules())
    got: dict[str, torch.Tensor] = {}
    handles = [named[n].register_forward_hook(
        lambda _m, _i, o, n=n: got.__setitem__(n, o[0] if isinstance(o, tuple) else o))
        for n in names]
    try:
        yield got
    finally:
        for h in handles:
            h.remove()


def activation_modules(model: nn.Module, names: tuple[str, ...]) -> list[str]:
    modules = dict(model.named_modules())
    if names:
        missing = [n for n in names if n not in modules]
        if missing:
            raise ObliviateError(f"blindspot: modules {missing} are not modules of the model; "
                                 f"modules: {', '.join(n for n in modules if n)}")
        return list(names)
    return [n for n, m in modules.items() if isinstance(m, ACTIVATIONS)]


def train_blindspot(model: nn.Module, retain: Split, task: Task, cfg: BlindspotConfig,
                    seed: int) -> nn.Module:
    """A frozen copy of ``model`` re-initialised and trained ``blindspot_epochs`` on D_r."""
    blind = copy.deepcopy(model)
    fresh_weights(blind, seed + BLINDSPOT_SEED_OFFSET)
    dev = device_of(blind)
    opt = torch.optim.Adam(blind.parameters(), lr=cfg.blindspot_lr)
    blind.train()
    for _, batch in epoch_batches(retain, cfg.batch_size, cfg.blindspot_epochs,
                                  seed + BLINDSPOT_SEED_OFFSET):
        loss = task.per_sample_loss(blind, batch.to(dev)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    blind.eval()
    for p in blind.parameters():
        p.requires_grad_(False)
    return blind


def unlearn(model: nn.Module, data: UnlearnData, cfg: BlindspotConfig, *, task: Task,
            seed: int) -> UnlearnResult:
    names = activation_modules(model, cfg.modules)
    if cfg.attention_beta > 0 and not names:
        raise ObliviateError("blindspot: the model has no activation modules for the "
                             "attention loss; name them with modules=... or set "
                             "attention_beta=0")
    blind = train_blindspot(model, data.retain, task, cfg, seed)
    dev = device_of(model)
    n_f, n_r = len(data.forget), len(data.retain)
    # One shuffled stream over row numbers pointing into forget or retain (the notebook's
    # utrain_loader over both sets with an "unlearn" flag).
    is_forget = torch.cat([torch.ones(n_f, dtype=torch.long), torch.zeros(n_r, dtype=torch.long)])
    position = torch.cat([torch.arange(n_f), torch.arange(n_r)])
    rows = Split("blindspot", torch.arange(n_f + n_r), is_forget, np.arange(n_f + n_r))
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    model.train()
    for _, idx in epoch_batches(rows, cfg.batch_size, cfg.epochs, seed):
        f_pos = position[idx.inputs[idx.targets == 1]].numpy()
        r_pos = position[idx.inputs[idx.targets == 0]].numpy()
        out_f = target_f = torch.zeros(0, device=dev)
        acts: list[torch.Tensor] = []
        target_acts: list[torch.Tensor] = []
        if len(f_pos):
            part = data.forget.subset(f_pos)
            batch = Batch(part.inputs, part.targets, part.mask).to(dev)
            with torch.no_grad(), capturing(blind, names) as got:
                target_f = task.logits(blind, batch)
                target_acts = [got[n] for n in names]
            with capturing(model, names) as got:
                out_f = task.logits(model, batch)
                acts = [got[n] for n in names]
        retain_loss = None
        if len(r_pos):
            part = data.retain.subset(r_pos)
            retain_loss = task.per_sample_loss(
                model, Batch(part.inputs, part.targets, part.mask).to(dev)).mean()
        loss = blindspot_loss(out_f, target_f, acts if cfg.attention_beta else [],
                              target_acts if cfg.attention_beta else [], retain_loss,
                              len(f_pos), len(r_pos), cfg.attention_beta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    return UnlearnResult(model, {"blindspot_forget_l1": _l1(model, blind, data.forget, task)})


def _l1(model: nn.Module, blind: nn.Module, forget: Split, task: Task) -> float:
    """Mean |model - blindspot| output on D_f after unlearning (for the record)."""
    batch = next(forget.batches(len(forget))).to(device_of(model))
    with torch.no_grad():
        return float((task.logits(model, batch) - task.logits(blind, batch)).abs().mean())
