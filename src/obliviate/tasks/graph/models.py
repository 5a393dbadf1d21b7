"""The graph model: a two-layer GCN (Kipf & Welling, "Semi-Supervised Classification with
Graph Convolutional Networks", ICLR 2017), torch_geometric's ``GCNConv`` layers.

No dropout: training is deterministic for a seed (the training loop draws no random numbers
of its own), so the oracle and ``retrain`` give the same weights.
"""

from __future__ import annotations

import torch
from torch import nn

from obliviate.methods.common import reinitialise
from obliviate.tasks.graph.pyg import pyg

EMBEDDING = "conv1"  # the hidden layer: its output is each node's embedding


class GCN(nn.Module):
    """``conv2(relu(conv1(x, A)), A)``: (n_nodes, d) features -> (n_nodes, classes) logits."""

    def __init__(self, in_dim: int, hidden: int, n_classes: int) -> None:
        super().__init__()
        conv = pyg().nn.GCNConv
        # cached=False: one model sees several graphs (the views), so the normalised
        # adjacency must be recomputed from each call's edges.
        self.conv1 = conv(in_dim, hidden, cached=False)
        self.conv2 = conv(hidden, n_classes, cached=False)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv2(torch.relu(self.conv1(x, edge_index)), edge_index)
        return out


def build_gcn(in_dim: int, hidden: int, n_classes: int, seed: int) -> GCN:
    """A GCN initialised from ``seed`` exactly as ``methods.common.reinitialise`` would, so
    ``retrain`` (which re-initialises the original's copy) starts where the oracle started."""
    model = GCN(in_dim, hidden, n_classes)
    reinitialise(model, seed)
    return model
