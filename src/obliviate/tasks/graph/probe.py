"""Probes: the only code that runs graph models for evaluation. Each model runs once per
view (all nodes at once); every metric is a function of what these return."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from obliviate.tasks.classification.probe import _evaluating
from obliviate.tasks.classification.task import hidden_output
from obliviate.tasks.graph.task import GraphTask
from obliviate.types import Outputs, Split


def view_logits(model: nn.Module, task: GraphTask, views: Sequence[int],
                ) -> dict[int, np.ndarray]:
    """(n_nodes, classes) float64 logits of every node, per view."""
    with _evaluating(model):
        return {v: task.view_logits(model, v).to("cpu", torch.float64).numpy() for v in views}


def view_layers(model: nn.Module, task: GraphTask, view: int, modules: Sequence[str],
                ) -> dict[str, np.ndarray]:
    """(n_nodes, width) float32 output of each named module on ``view``."""
    device = next(model.parameters()).device
    g = task.graphs[view].to(device)
    out = {}
    with _evaluating(model):
        for m in modules:
            out[m] = hidden_output(model, m, lambda: model(g.x, g.edge_index)).to(
                "cpu", torch.float32).numpy()
    return out


def rows_of(logits: dict[int, np.ndarray], split: Split) -> Outputs:
    """A split's rows (node, view) picked from per-view logits."""
    nodes, views = split.inputs[:, 0].numpy(), split.inputs[:, 1].numpy()
    n_classes = next(iter(logits.values())).shape[1]
    out = np.empty((len(nodes), n_classes))
    for v in np.unique(views).tolist():
        where = views == v
        out[where] = logits[v][nodes[where]]
    return Outputs(logits=out, labels=split.targets.numpy().astype(np.int64))


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
