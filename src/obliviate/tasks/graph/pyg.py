"""torch_geometric, imported in one place: a clear error when it is missing, and its
import-time deprecation warning (its code, not ours) kept out of the user's output."""

from __future__ import annotations

import warnings
from typing import Any

from obliviate.errors import ObliviateError


def pyg() -> Any:
    """The ``torch_geometric`` module (``.nn.GCNConv``, ``.datasets.KarateClub`` imported)."""
    try:
        with warnings.catch_warnings():
            # torch_geometric 2.8 runs torch.jit.script at import; torch 2.13 deprecates it.
            warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated",
                                    category=DeprecationWarning)
            import torch_geometric
            import torch_geometric.datasets
            import torch_geometric.nn
    except ImportError as e:
        raise ObliviateError(f"graphs need torch-geometric ({e}); install it with pip "
                             "install 'torch-geometric>=2.5,<3'") from None
    return torch_geometric
