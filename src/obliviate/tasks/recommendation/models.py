"""BPR matrix factorisation with an item side-feature projection (the scenarios' one model).

score(u, i) = <p_u, q_i + W f_i> + b_i: a user embedding p_u, an item embedding q_i, the item's
side features f_i (standing in for image / text embeddings of a multi-modal recommender)
projected by W into the same space, and an item bias b_i (popularity). The features are data,
not weights: a buffer, the same for every role. Every weight belongs to a module with
``reset_parameters`` whose default initialisation is the one used here, so ``retrain``'s
re-initialisation rebuilds exactly the model ``build_bprmf`` builds for the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from obliviate.errors import ObliviateError
from obliviate.seeding import seeded

MODEL_NAME = "bprmf"


@dataclass(frozen=True)
class ModelSize:
    dim: int = 32  # embedding width; ~8x the generator's 8 latent factors, so it can memorise
    init_std: float = 0.1  # N(0, 0.1^2) embeddings, the usual MF initialisation scale

    def __post_init__(self) -> None:
        if self.dim < 1 or not self.init_std > 0:
            raise ValueError(f"ModelSize: dim={self.dim} must be >= 1 and init_std="
                             f"{self.init_std} > 0")


class ScaledEmbedding(nn.Embedding):
    """An embedding initialised N(0, init_std^2) by its own ``reset_parameters`` (nn.Embedding
    draws N(0, 1), far too large for dot-product scores)."""

    def __init__(self, num: int, dim: int, init_std: float) -> None:
        self.init_std = init_std  # set before nn.Embedding's __init__ calls reset_parameters
        super().__init__(num, dim)

    def reset_parameters(self) -> None:
        nn.init.normal_(self.weight, std=self.init_std)


class ZeroEmbedding(nn.Embedding):
    """Item biases start at 0: popularity is learned, never drawn."""

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.weight)


class BPRMF(nn.Module):
    """``forward(users)`` -> (B, n_items) scores; submodules ``user``, ``item``, ``bias`` and
    ``features`` (absent when the items have no side features)."""

    def __init__(self, n_users: int, n_items: int, item_features: np.ndarray,
                 size: ModelSize) -> None:
        super().__init__()
        self.user = ScaledEmbedding(n_users, size.dim, size.init_std)
        self.item = ScaledEmbedding(n_items, size.dim, size.init_std)
        self.bias = ZeroEmbedding(n_items, 1)
        f = np.asarray(item_features, dtype=np.float32)
        if f.shape[0] != n_items:
            raise ValueError(f"item_features has {f.shape[0]} rows for {n_items} items")
        self.register_buffer("item_features", torch.from_numpy(f.copy()))
        self.features = nn.Linear(f.shape[1], size.dim, bias=False) if f.shape[1] else None

    def item_vectors(self) -> torch.Tensor:
        """(n_items, dim) q_i + W f_i: each item as the scores see it."""
        q: torch.Tensor = self.item.weight
        if self.features is not None:
            q = q + self.features(self.item_features)
        return q

    def forward(self, users: torch.Tensor) -> torch.Tensor:
        scores: torch.Tensor = self.user(users) @ self.item_vectors().T
        return scores + self.bias.weight.T


def build_bprmf(n_users: int, n_items: int, item_features: np.ndarray, size: ModelSize,
                seed: int, name: str = MODEL_NAME) -> BPRMF:
    """A freshly initialised model; the same ``seed`` gives the same weights."""
    if name != MODEL_NAME:
        raise ObliviateError(f"unknown recommendation model {name!r}; valid models: "
                             f"{MODEL_NAME}")
    with seeded(seed):
        return BPRMF(n_users, n_items, item_features, size)
