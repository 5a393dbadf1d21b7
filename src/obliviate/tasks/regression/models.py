"""The regressor, whole in one screen: an MLP with one output.

It exposes ``body`` (inputs -> penultimate features) and ``head`` (features -> the
prediction), as the classifiers do, so features for the dashboard have one stable name.
"""

from __future__ import annotations

import torch
from torch import nn

from obliviate.errors import ObliviateError
from obliviate.seeding import seeded


class Regressor(nn.Module):
    def __init__(self, body: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.body(x))
        return out  # (batch, 1)


def build_mlp(input_dim: int, width: int = 128, depth: int = 2) -> Regressor:
    """``depth`` hidden layers of ``width`` ReLU units. Over-parameterised for these data
    sets (about 18,000 weights for a few hundred training rows): trained long enough, it
    fits individual samples, which is what makes forgetting them measurable."""
    layers: list[nn.Module] = []
    d = input_dim
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.ReLU()]
        d = width
    return Regressor(nn.Sequential(*layers), nn.Linear(d, 1))


MODELS = {"mlp": lambda d: build_mlp(d, 128, 2), "mlp-wide": lambda d: build_mlp(d, 256, 3)}


def build_regressor(name: str, input_dim: int, seed: int) -> nn.Module:
    """A freshly initialised regressor; the same ``seed`` gives the same weights (and
    ``methods.common.reinitialise`` with that seed rebuilds them: every parameter belongs to
    an ``nn.Linear``, reset in construction order)."""
    if name not in MODELS:
        raise ObliviateError(f"unknown regression model {name!r}; valid models: "
                             f"{', '.join(MODELS)}")
    with seeded(seed):
        return MODELS[name](input_dim)
