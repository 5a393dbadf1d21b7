"""The versions ("views") of a graph that one forget request gives, as tensors.

* ``TRAINING`` — the graph the original trained on: every feature, every edge.
* ``RETAINED`` — the graph with the request applied, what the oracle retrains on and what
  every model serves after the deletion: a deleted node keeps its row (node ids stay stable)
  but loses its features and every edge, so nothing of it reaches another node; a deleted
  edge is gone; a node whose features are deleted keeps its edges, its features are zeros.
* ``QUERY`` — the retained edges with every training feature: what the link-stealing attack
  queries (an attacker who holds a deleted node's features can still ask about it, but the
  service's graph no longer has its links).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from obliviate.tasks.graph.data import Graph
from obliviate.tasks.graph.forget import Request

TRAINING, RETAINED, QUERY = 0, 1, 2
VIEW_NAMES = ("training", "retained", "query")


@dataclass(frozen=True, eq=False)
class GraphTensors:
    """``x`` (n, d) float32 and ``edge_index`` (2, 2E) int64, each undirected edge stored in
    both directions (torch_geometric's convention for an undirected graph)."""

    x: torch.Tensor
    edge_index: torch.Tensor

    def to(self, device: torch.device) -> GraphTensors:
        if self.x.device == device:
            return self
        return GraphTensors(self.x.to(device), self.edge_index.to(device))


def tensors(x: np.ndarray, edges: np.ndarray) -> GraphTensors:
    both = np.concatenate([edges, edges[:, ::-1]]).T if len(edges) else np.zeros((2, 0))
    return GraphTensors(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
                        torch.from_numpy(np.ascontiguousarray(both, dtype=np.int64)))


def forgotten_edges(graph: Graph, request: Request) -> np.ndarray:
    """Ids of the edges the request removes: a deleted node's edges, or the deleted edges.
    A feature request removes none."""
    if request.kind == "edges":
        return request.edges
    if request.kind == "nodes":
        hit = np.isin(graph.edges[:, 0], request.nodes) | np.isin(graph.edges[:, 1],
                                                                   request.nodes)
        return np.flatnonzero(hit)
    return np.zeros(0, dtype=np.int64)


def views(graph: Graph, request: Request) -> tuple[GraphTensors, GraphTensors, GraphTensors]:
    """(TRAINING, RETAINED, QUERY) for ``request`` on ``graph``."""
    kept = np.delete(graph.edges, forgotten_edges(graph, request), axis=0)
    x_retained = graph.x.copy()
    if request.kind in ("nodes", "features"):
        x_retained[request.nodes] = 0.0
    return (tensors(graph.x, graph.edges), tensors(x_retained, kept),
            tensors(graph.x, kept))
