"""The graph task: a GCN maps (features, edges) to a logit row per node.

A batch row is a node of one view of the graph: ``inputs`` is (B, 2) int64, column 0 the
node id and column 1 the view (``graphs.TRAINING``, ``RETAINED``, ``QUERY``), ``targets``
the node's label. A GCN's output for one node depends on its whole neighbourhood, so every
quantity below runs the model over each view a batch names (``model(x, edge_index)``, all
nodes at once) and picks the batch's rows; a batch may mix views (SSD concatenates forget
rows, on the training graph, with retain rows, on the retained graph), and each view is run
once. The task holds the views' features and edges but no label: test labels never reach a
method through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from obliviate.tasks.classification.task import hidden_output
from obliviate.tasks.graph.graphs import GraphTensors
from obliviate.types import Batch, Split


def node_rows(name: str, nodes: np.ndarray, view: int, labels: np.ndarray) -> Split:
    """A split of ``nodes`` (ids) on ``view``; its ids are the node ids."""
    nodes = np.asarray(nodes, dtype=np.int64)
    inputs = torch.from_numpy(np.stack([nodes, np.full_like(nodes, view)], axis=1))
    return Split(name, inputs, torch.from_numpy(labels[nodes].astype(np.int64)), nodes)


@dataclass(frozen=True, eq=False)
class GraphTask:
    """Node classification on the graph's views (DESIGN.md's task table, a graph column:
    per-sample loss = the node's cross-entropy, logits = its logit row, hidden = its row of
    a layer's node embeddings)."""

    graphs: tuple[GraphTensors, ...]
    n_classes: int
    name: str = "graph"

    def __post_init__(self) -> None:
        if self.n_classes < 2:
            raise ValueError(f"a graph task needs >= 2 classes, got {self.n_classes}")

    def _rows(self, inputs: torch.Tensor,
              run: Callable[[GraphTensors], torch.Tensor]) -> torch.Tensor:
        """``run(view)`` -> (n_nodes, ...) for each view in ``inputs``, rows picked in order."""
        if inputs.ndim != 2 or inputs.shape[1] != 2:
            raise ValueError(f"graph batch inputs must be (B, 2) node ids and views, got "
                             f"{tuple(inputs.shape)}")
        nodes, views = inputs[:, 0], inputs[:, 1]
        out: torch.Tensor | None = None
        for v in torch.unique(views).tolist():
            if not 0 <= v < len(self.graphs):
                raise ValueError(f"graph batch names view {v}; the task has "
                                 f"{len(self.graphs)}")
            where = torch.nonzero(views == v).squeeze(1)
            rows = run(self.graphs[v].to(inputs.device))[nodes[where]]
            if out is None:
                out = rows.new_zeros((len(nodes), *rows.shape[1:]))
            out = out.index_copy(0, where, rows)  # out of place: autograd flows to ``rows``
        if out is None:
            raise ValueError("an empty graph batch has no rows")
        return out

    def logits(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        return self._rows(batch.inputs, lambda g: model(g.x, g.edge_index))

    def per_sample_loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        return F.cross_entropy(self.logits(model, batch), batch.targets, reduction="none")

    def log_likelihood(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        logp = F.log_softmax(self.logits(model, batch), dim=-1)
        return logp.gather(1, batch.targets[:, None]).squeeze(1)

    def alternative_targets(self, model: nn.Module, batch: Batch,
                            generator: torch.Generator) -> Batch:
        """A uniformly random class other than the true one (the RL baseline's relabelling)."""
        shift = torch.randint(1, self.n_classes, batch.targets.shape, generator=generator)
        return batch.with_targets((batch.targets + shift.to(batch.targets.device))
                                  % self.n_classes)

    def hidden(self, model: nn.Module, batch: Batch, module: str) -> torch.Tensor:
        """The batch's rows of submodule ``module``'s node embeddings (e.g. ``conv1``)."""
        return self._rows(batch.inputs, lambda g: hidden_output(
            model, module, lambda: model(g.x, g.edge_index)))

    def view_logits(self, model: nn.Module, view: int) -> torch.Tensor:
        """(n_nodes, classes) logits of every node on ``view``."""
        device = next(model.parameters()).device
        g = self.graphs[view].to(device)
        out: torch.Tensor = model(g.x, g.edge_index)
        return out
