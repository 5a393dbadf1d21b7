"""A graph as data: node names, features, labels and undirected edges (numpy, no torch).

The bundled graphs: Zachary's karate club (torch_geometric's ``KarateClub``: 34 members,
78 friendships, 4 communities, one-hot features) and a seeded stochastic block model whose
features carry the class weakly, so a GCN needs the edges and also memorises its training
nodes (what makes forgetting measurable).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from obliviate.errors import DataError


@dataclass(frozen=True, eq=False)
class Graph:
    """``x`` (n, d) float32 features, ``y`` (n,) int64 labels (indices into ``classes``),
    ``edges`` (E, 2) int64 undirected edges as (u, v) with u < v, sorted and unique, and one
    type per edge (``edge_types``: the user's ``type`` column, or the endpoints' classes).

    ``split`` is the user's train/test mark per node, when their node table gives one.
    """

    name: str
    nodes: tuple[str, ...]
    x: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    edges: np.ndarray
    edge_types: tuple[str, ...]
    split: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        n = len(self.nodes)
        if self.x.shape[0] != n or self.y.shape != (n,):
            raise DataError(f"graph {self.name!r}: {n} nodes but features {self.x.shape} and "
                            f"labels {self.y.shape}")
        if self.edges.ndim != 2 or self.edges.shape[1] != 2 or len(self.edge_types) != len(
                self.edges):
            raise DataError(f"graph {self.name!r}: edges must be (E, 2) with one type each")

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @cached_property
    def index(self) -> dict[str, int]:
        """Node name -> node id."""
        return {name: i for i, name in enumerate(self.nodes)}

    @cached_property
    def edge_index_of(self) -> dict[tuple[int, int], int]:
        """(u, v) with u < v -> edge id."""
        return {(int(u), int(v)): i for i, (u, v) in enumerate(self.edges)}

    def edge_name(self, e: int) -> str:
        u, v = self.edges[e]
        return f"{self.nodes[u]}~{self.nodes[v]}"

    def fingerprint(self) -> str:
        """sha256 of names, features, labels, classes, edges and edge types."""
        h = hashlib.sha256()
        for arr in (self.x, self.y, self.edges):
            h.update(str(arr.shape).encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        for texts in (self.nodes, self.classes, self.edge_types, self.split or ()):
            h.update("\x1f".join(texts).encode())
            h.update(b"\x1e")
        return h.hexdigest()


def canonical_edges(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(E, 2) int64 with u < v per row, rows sorted; the caller has removed self-loops and
    duplicates."""
    pairs = np.stack([np.minimum(u, v), np.maximum(u, v)], axis=1).astype(np.int64)
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    return pairs[order]


def class_pair_types(edges: np.ndarray, y: np.ndarray, classes: tuple[str, ...],
                     ) -> tuple[str, ...]:
    """An edge's type when the data names none: its endpoints' classes, ``"a-b"`` with a <= b
    in class order (``edge-type:0-0`` is every edge inside class 0)."""
    a, b = np.minimum(y[edges[:, 0]], y[edges[:, 1]]), np.maximum(y[edges[:, 0]],
                                                                   y[edges[:, 1]])
    return tuple(f"{classes[i]}-{classes[j]}" for i, j in zip(a.tolist(), b.tolist(),
                                                              strict=True))


def stochastic_block_graph(name: str, *, per_class: int, n_classes: int, dim: int,
                           p_in: float, p_out: float, separation: float, seed: int) -> Graph:
    """A stochastic block model (Holland et al. 1983) with class-dependent features.

    ``per_class`` nodes per class; an edge joins two nodes of one class with probability
    ``p_in`` and of two classes with ``p_out``. Node i's features are ``separation * mu_y``
    plus N(0, I / dim) noise, with ``mu_c`` a random unit vector per class: at small
    separations a node's own features say little about its class, so a GCN leans on its
    neighbours and fits its training nodes' noise (which the oracle never sees). numpy's
    generator, seeded: the same graph on every machine and torch version.
    """
    rng = np.random.default_rng(seed)
    n = per_class * n_classes
    y = np.repeat(np.arange(n_classes), per_class)
    rng.shuffle(y)
    mu = rng.normal(size=(n_classes, dim))
    mu /= np.linalg.norm(mu, axis=1, keepdims=True)
    x = separation * mu[y] + rng.normal(size=(n, dim)) / math.sqrt(dim)
    p = np.where(y[:, None] == y[None, :], p_in, p_out)
    u, v = np.nonzero(np.triu(rng.random((n, n)) < p, k=1))
    edges = canonical_edges(u, v)
    classes = tuple(str(c) for c in range(n_classes))
    return Graph(name, tuple(str(i) for i in range(n)), x.astype(np.float32),
                 y.astype(np.int64), classes, edges, class_pair_types(edges, y, classes))


def karate_graph() -> Graph:
    """Zachary's karate club as torch_geometric bundles it (no download): 34 nodes, 78
    undirected edges, the 4 communities of its labels, one-hot node features."""
    from obliviate.tasks.graph.pyg import pyg

    data = pyg().datasets.KarateClub()[0]
    ei = data.edge_index.numpy()
    keep = ei[0] < ei[1]  # both directions are stored; keep each edge once
    edges = canonical_edges(ei[0][keep], ei[1][keep])
    y = data.y.numpy().astype(np.int64)
    classes = tuple(str(c) for c in range(int(y.max()) + 1))
    return Graph("karate", tuple(str(i) for i in range(len(y))),
                 data.x.numpy().astype(np.float32), y, classes, edges,
                 class_pair_types(edges, y, classes))
