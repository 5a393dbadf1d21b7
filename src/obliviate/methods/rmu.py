"""RMU: representation misdirection, steering forget activations to a fixed random vector.

Li et al., "The WMDP Benchmark: Measuring and Reducing Malicious Use With Unlearning", ICML
2024. At the output of module ``layer_module`` (a transformer block), the forget loss pulls the
model's activations on forget tokens towards ``steering_coeff * u``, a fixed random unit
vector, and the retain loss ``alpha * ||h(x_r) - h_ref(x_r)||^2`` keeps retain activations
where the frozen original has them (``losses.masked_mse``; means over real tokens). Only the
parameters of ``update_modules`` are trained: every other weight stays bit-identical.
Reference: centerforaisafety/wmdp ``rmu/unlearn.py`` and its zephyr run (checked through
copies and open-unlearning's port): one forget and one retain batch per step, AdamW at a
constant lr, ``u = rand(d)`` normalised (uniform entries in [0, 1), as in the paper).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from obliviate.errors import DivergedError, ObliviateError
from obliviate.losses import masked_mse
from obliviate.methods.common import check_nonnegative, check_positive, device_of
from obliviate.methods.paired import endless, frozen_copy
from obliviate.tasks.causal_lm.task import trim
from obliviate.types import Batch, Task, UnlearnData, UnlearnResult


@dataclass(frozen=True)
class RMUConfig:
    # The zephyr-7b run (wmdp README / run_rmu_zephyr.ipynb): --steering_coeffs 6.5
    # --alpha 1200 --lr 5e-5 --batch_size 4 --max_num_batches 150; transformers' AdamW, no
    # weight decay. Defaults there: loss at layer 7, update layers 5-7, param 6 (mlp.down_proj).
    steering_coeff: float = 6.5
    alpha: float = 1200.0
    lr: float = 5e-5
    steps: int = 150
    batch_size: int = 4
    weight_decay: float = 0.0
    # Our GPT-2 analogue: the loss at the last block, updating the MLP output projections of
    # the last (up to) three blocks, as layers 5-7 are to layer 7. Name modules of your model.
    layer_module: str = "transformer.h.1"
    update_modules: tuple[str, ...] = ("transformer.h.0.mlp.c_proj",
                                       "transformer.h.1.mlp.c_proj")

    def __post_init__(self) -> None:
        check_positive("RMUConfig", steering_coeff=self.steering_coeff, lr=self.lr,
                       steps=self.steps, batch_size=self.batch_size)
        check_nonnegative("RMUConfig", alpha=self.alpha, weight_decay=self.weight_decay)
        if not self.layer_module or not self.update_modules:
            raise ValueError(f"RMUConfig: layer_module={self.layer_module!r} and "
                             f"update_modules={self.update_modules!r} must name modules")


def control_vector(dim: int, coeff: float, seed: int) -> torch.Tensor:
    """``coeff * u``, ``u`` uniform in [0, 1)^dim normalised to unit norm (seeded)."""
    u = torch.rand(dim, generator=torch.Generator().manual_seed(seed))
    return coeff * u / u.norm()


def unlearn(model: nn.Module, data: UnlearnData, cfg: RMUConfig, *, task: Task,
            seed: int) -> UnlearnResult:
    modules = dict(model.named_modules())
    missing = [m for m in cfg.update_modules if m not in modules]
    if missing:
        raise ObliviateError(f"RMU: update_modules {missing} are not modules of the model; "
                             f"modules: {', '.join(n for n in modules if n)}")
    train = {id(p) for m in cfg.update_modules for p in modules[m].parameters()}
    params = [p for p in model.parameters() if id(p) in train]
    ref, dev = frozen_copy(model), device_of(model)
    was = {n: p.requires_grad for n, p in model.named_parameters()}
    forget, retain = endless(data.forget, cfg.batch_size, seed), endless(
        data.retain, cfg.batch_size, seed + 1)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    target: torch.Tensor | None = None
    loss = torch.zeros(())
    try:
        for p in model.parameters():
            p.requires_grad_(id(p) in train)  # no gradient work for frozen weights
        model.train()
        for step in range(cfg.steps):
            f, r = next(forget).to(dev), next(retain).to(dev)
            h_f = task.hidden(model, f, cfg.layer_module)
            if target is None:
                target = control_vector(h_f.shape[-1], cfg.steering_coeff, seed).to(h_f)
            with torch.no_grad():
                h_ref = task.hidden(ref, r, cfg.layer_module)
            loss = (masked_mse(h_f, target.expand_as(h_f), _mask(f))
                    + cfg.alpha * masked_mse(task.hidden(model, r, cfg.layer_module), h_ref,
                                             _mask(r)))
            if not torch.isfinite(loss):
                raise DivergedError(f"RMU diverged: loss {loss.item()} at step {step}; "
                                    f"lower lr ({cfg.lr}) or steering_coeff")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    finally:
        for n, p in model.named_parameters():
            p.requires_grad_(was[n])
        model.eval()
    return UnlearnResult(model, {"final_loss": float(loss.detach()),
                                 "trained_parameters": float(sum(p.numel() for p in params))})


def _mask(batch: Batch) -> torch.Tensor | None:
    """The attention mask aligned with ``task.hidden``'s output (trimmed like the inputs)."""
    return trim(batch).mask
