"""Small model builders, by name. Every model names its penultimate block ``body``."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from obliviate.errors import ObliviateError
from obliviate.seeding import seeded
from obliviate.tasks.classification.nets import build_cnn, build_mlp

ModelBuilder = Callable[[tuple[int, ...], int], nn.Module]

MODELS: dict[str, ModelBuilder] = {
    "mlp": build_mlp,
    "cnn": build_cnn,
}


def build_model(name: str, input_shape: tuple[int, ...], n_classes: int, seed: int) -> nn.Module:
    """A freshly initialised model; the same ``seed`` gives the same weights."""
    if name not in MODELS:
        raise ObliviateError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}")
    try:
        with seeded(seed):
            return MODELS[name](input_shape, n_classes)
    except ValueError as e:  # the data's shape does not fit this architecture
        raise ObliviateError(f"model {name!r} cannot take inputs of shape {input_shape}: "
                             f"{e}") from None


def default_model_for(input_shape: tuple[int, ...]) -> str:
    """A CNN for images (channels, height, width); an MLP for feature vectors."""
    return "cnn" if len(input_shape) == 3 else "mlp"
