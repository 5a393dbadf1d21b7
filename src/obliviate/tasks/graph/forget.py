"""Graph forget requests: nodes, a class of nodes, edges, a class of edges, node features.

A request is one of three kinds of deletion, each with the graph the oracle retrains on:

* ``nodes`` — the nodes are deleted: their features, labels and every edge they have;
* ``edges`` — the edges are deleted; every node stays (with its label);
* ``features`` — the nodes' features and labels are deleted, their edges stay (node feature
  unlearning, as in Chien et al., "Certified Graph Unlearning", 2022).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from obliviate.errors import ForgetSetError, shown
from obliviate.tasks.classification.rows import few
from obliviate.tasks.graph.data import Graph

SELECTORS = {
    "nodes": "nodes:F — a random fraction 0 < F < 1 of the training nodes, deleted with their "
             "edges",
    "node": "node:A,B — the named training nodes (ids of the node table), deleted with their "
            "edges",
    "class": "class:K — every training node of class K, deleted with its edges",
    "edges": "edges:F — a random fraction 0 < F < 1 of the edges",
    "edge": "edge:A~B,C~D — the named edges (node ids joined by ~)",
    "edge-type": "edge-type:T — every edge of type T (the edge table's type column; bundled "
                 "graphs: the endpoints' classes, e.g. 0-1)",
    "features": "features:F — the features and labels of a random fraction F of the training "
                "nodes; the nodes and their edges stay",
}
KIND_OF = {"nodes": "nodes", "node": "nodes", "class": "nodes", "edges": "edges",
           "edge": "edges", "edge-type": "edges", "features": "features"}
EMPTY = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class Request:
    """What is deleted: ``nodes`` (node ids) for node and feature requests, ``edges`` (edge
    ids into ``Graph.edges``) for edge requests; the other is empty."""

    kind: str  # "nodes" | "edges" | "features"
    nodes: np.ndarray
    edges: np.ndarray

    @property
    def units(self) -> np.ndarray:
        return self.edges if self.kind == "edges" else self.nodes

    def with_units(self, units: np.ndarray) -> Request:
        units = np.sort(np.asarray(units, dtype=np.int64))
        return Request(self.kind, EMPTY if self.kind == "edges" else units,
                       units if self.kind == "edges" else EMPTY)


def canonical_forget(spec: str) -> str:
    """One spelling per request: whitespace around kind and argument dropped, a fraction as
    its float's repr (``nodes:1e-1`` is ``nodes:0.1``); text that does not parse comes back
    as given, for ``select_forget`` to reject."""
    kind, sep, arg = spec.partition(":")
    kind, arg = kind.strip(), arg.strip()
    if not sep or kind not in SELECTORS:
        return spec
    if kind in ("nodes", "edges", "features"):
        try:
            return f"{kind}:{float(arg)!r}"
        except ValueError:
            return spec
    if kind in ("node", "edge"):
        return f"{kind}:{','.join(p.strip() for p in arg.split(','))}"
    return f"{kind}:{arg}"


def select_forget(spec: str, graph: Graph, train: np.ndarray, seed: int) -> Request:
    """The request ``spec`` names; ``train`` are the training node ids (sorted)."""
    kind, sep, arg = spec.partition(":")
    if not sep or kind not in SELECTORS or not arg:
        raise ForgetSetError(f"bad graph forget set {shown(spec)}; expected one of: "
                             + "; ".join(SELECTORS.values()))
    rng = np.random.default_rng(seed)
    if kind in ("nodes", "features"):
        nodes = np.sort(rng.choice(train, size=_count(arg, spec, len(train), "training nodes"),
                                   replace=False))
    elif kind == "node":
        nodes = _named_nodes(arg, graph, train)
    elif kind == "class":
        nodes = train[graph.y[train] == _class_id(arg, graph)]
        if len(nodes) == 0:
            raise ForgetSetError(f"forget set {spec!r} is empty: no training node has class "
                                 f"{shown(arg)}")
    elif kind == "edges":
        edges = np.sort(rng.choice(len(graph.edges), replace=False,
                                   size=_count(arg, spec, len(graph.edges), "edges")))
    elif kind == "edge":
        edges = _named_edges(arg, graph)
    else:
        edges = np.flatnonzero(np.array(graph.edge_types) == arg)
        if len(edges) == 0:
            kinds = sorted(set(graph.edge_types))
            raise ForgetSetError(f"forget set {spec!r} is empty: no edge has type {shown(arg)}; "
                                 f"types: {few(kinds)}")
    if KIND_OF[kind] == "edges":
        touched = np.intersect1d(graph.edges[edges].ravel(), train)
        if len(touched) == 0:
            raise ForgetSetError(f"forget set {spec!r}: its edges join test nodes only; a "
                                 "method learns from training nodes, so it could not act on them")
        return Request("edges", EMPTY, edges.astype(np.int64))
    if len(nodes) == len(train):
        raise ForgetSetError(f"forget set {spec!r} is every training node; nothing would be "
                             "left to retain")
    return Request(KIND_OF[kind], nodes.astype(np.int64), EMPTY)


def _count(arg: str, spec: str, n: int, what: str) -> int:
    try:
        frac = float(arg)
    except ValueError:
        raise ForgetSetError(f"forget set {shown(spec)}: {shown(arg)} is not a number") from None
    if not 0.0 < frac < 1.0:
        raise ForgetSetError(f"forget set {shown(spec)}: the fraction must be in (0, 1), got "
                             f"{frac}")
    k = int(round(frac * n))
    if k == 0:
        raise ForgetSetError(f"forget set {spec!r} is empty: {frac} of {n} {what} rounds to 0")
    return k


def _node(name: str, graph: Graph) -> int:
    if name not in graph.index:
        raise ForgetSetError(f"node {shown(name)} is not in the graph ({graph.n_nodes} nodes, "
                             f"e.g. {few(graph.nodes[:3], 3)})")
    return graph.index[name]


def _named_nodes(arg: str, graph: Graph, train: np.ndarray) -> np.ndarray:
    nodes = np.unique([_node(n.strip(), graph) for n in arg.split(",")])
    outside = np.setdiff1d(nodes, train)
    if len(outside):
        raise ForgetSetError(f"{len(outside)} named node(s) are test nodes, not training "
                             f"nodes: {few(graph.nodes[i] for i in outside)}")
    return nodes


def _named_edges(arg: str, graph: Graph) -> np.ndarray:
    out = []
    for item in arg.split(","):
        a, sep, b = item.strip().partition("~")
        if not sep:
            raise ForgetSetError(f"edge {shown(item.strip())}: name an edge as A~B (the ids of "
                                 "its two nodes)")
        u, v = sorted((_node(a.strip(), graph), _node(b.strip(), graph)))
        if (u, v) not in graph.edge_index_of:
            raise ForgetSetError(f"edge {shown(item.strip())} is not in the graph: nodes "
                                 f"{graph.nodes[u]!r} and {graph.nodes[v]!r} are not linked")
        out.append(graph.edge_index_of[u, v])
    return np.unique(out)


def _class_id(arg: str, graph: Graph) -> int:
    if arg in graph.classes:
        return graph.classes.index(arg)
    raise ForgetSetError(f"unknown class {shown(arg)}; classes: {', '.join(graph.classes)}")
