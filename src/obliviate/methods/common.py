"""Plain functions shared by methods (STYLE.md habit 3: compose, don't inherit)."""

from __future__ import annotations

import copy

import torch
from torch import nn

from obliviate.seeding import seeded


def device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def sgd(model: nn.Module, lr: float, momentum: float, weight_decay: float) -> torch.optim.SGD:
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr,
                           momentum=momentum, weight_decay=weight_decay)


def check_positive(name: str, **values: float) -> None:
    """Raise ``ValueError`` naming every field of config ``name`` that is not > 0."""
    bad = [f"{k}={v}" for k, v in values.items() if not v > 0]
    if bad:
        raise ValueError(f"{name}: {', '.join(bad)} must be > 0")


def check_nonnegative(name: str, **values: float) -> None:
    """Raise ``ValueError`` naming every field of config ``name`` that is not >= 0."""
    bad = [f"{k}={v}" for k, v in values.items() if not v >= 0]
    if bad:
        raise ValueError(f"{name}: {', '.join(bad)} must be >= 0")


def check_fraction(name: str, **values: float) -> None:
    """Raise ``ValueError`` naming every field of config ``name`` outside [0, 1]."""
    bad = [f"{k}={v}" for k, v in values.items() if not 0.0 <= v <= 1.0]
    if bad:
        raise ValueError(f"{name}: {', '.join(bad)} must be in [0, 1]")


def reinitialise(model: nn.Module, seed: int) -> None:
    """Re-initialise every parameter of ``model`` in place, deterministically for ``seed``.

    Calls ``reset_parameters()`` on every submodule that has one, in ``model.modules()``
    order (the order modules are built in, so a freshly built model with the same seed gets
    the same weights). Raises ``ValueError`` if some parameter is owned by a module without
    ``reset_parameters``: keeping its trained value would leak the forget set silently.
    """
    uncovered = []
    for name, module in model.named_modules():
        if callable(getattr(module, "reset_parameters", None)):
            continue
        for pname, _ in module.named_parameters(recurse=False):
            uncovered.append(f"{name + '.' if name else ''}{pname} "
                             f"(owned by {type(module).__name__} {name or '<root>'!r})")
    if uncovered:
        raise ValueError("retrain cannot re-initialise these parameters: their module has no "
                         f"reset_parameters(): {'; '.join(uncovered)}. Give the module a "
                         "reset_parameters() method, or build a fresh model instead.")
    # Reset a CPU copy: the same seed then gives the same weights on every device (a CUDA
    # reset would draw from the CUDA generator and no longer reproduce the CPU-built oracle).
    fresh = copy.deepcopy(model).cpu()
    with seeded(seed):
        for module in fresh.modules():
            reset = getattr(module, "reset_parameters", None)
            if callable(reset):
                reset()
    with torch.no_grad():
        for p, q in zip(model.state_dict().values(), fresh.state_dict().values(), strict=True):
            p.copy_(q)


def fresh_weights(model: nn.Module, seed: int) -> None:
    """Give ``model`` freshly initialised weights, deterministically for ``seed``.

    A Hugging Face model is rebuilt from its config under ``seeded(seed)``, the way
    ``build_gpt2`` built it (GPT-2's Conv1D has no ``reset_parameters``), and its state
    loaded in place; any other model goes through ``reinitialise``.
    """
    config = getattr(model, "config", None)
    if config is None or not hasattr(type(model), "config_class"):
        reinitialise(model, seed)
        return
    with seeded(seed):
        fresh = type(model)(config)
    model.load_state_dict(fresh.state_dict())

