"""A user's own graph: ``--task graph --data DIR``, DIR holding two CSV files.

``DIR/nodes.csv``, one row per node, with a header row:

* ``id`` — the node's name (any text, unique); forget requests and edges name nodes by it;
* ``label`` — its class (or the column ``--label`` names);
* optionally the column ``--split-column`` names, ``train`` or ``test`` per node (default: a
  seeded 70/30 split of the nodes);
* every other column is a numeric feature (standardised per column). A table with no feature
  column gives each node a one-hot feature of its own, as the karate club has.

``DIR/edges.csv``, one row per undirected edge, with a header row:

* ``source``, ``target`` — the ids of the two nodes it joins;
* optionally ``type`` — the edge's class, for ``--forget edge-type:T`` (default: the pair of
  its endpoints' labels, ``a-b``).

An edge naming a node that is not in the node table, a self-loop, an edge listed twice (in
either direction), a repeated node id or a non-numeric feature is an error naming the file,
its line and the value.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from obliviate.errors import DataError
from obliviate.tasks.graph.data import Graph, canonical_edges, class_pair_types

NODES, EDGES = "nodes.csv", "edges.csv"
SPLIT_VALUES = ("train", "test")


def read_graph_dir(path: str, label: str | None, split_column: str | None) -> Graph:
    """The graph in directory ``path`` (``nodes.csv`` and ``edges.csv``, as above)."""
    d = Path(path)
    if not d.is_dir():
        what = "is a file" if d.exists() else "does not exist"
        raise DataError(f"graph data {path!r} {what}; give a directory holding {NODES} and "
                        f"{EDGES} (--task graph --data DIR)")
    names, x, labels, marks = _read_nodes(d / NODES, label or "label", split_column)
    index = {n: i for i, n in enumerate(names)}
    classes_arr, y = np.unique(np.array(labels), return_inverse=True)
    classes = tuple(str(c) for c in classes_arr)
    if len(classes) < 2:
        raise DataError(f"{NODES}: every node has the label {classes[0]!r}; need >= 2 classes")
    edges, types = _read_edges(d / EDGES, index)
    y = y.astype(np.int64)
    edge_types = types if types is not None else class_pair_types(edges, y, classes)
    return Graph(f"user:{path}", tuple(names), x, y, classes, edges, edge_types,
                 None if marks is None else tuple(marks))


def _rows(p: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(line number, fields)]) of a CSV file, blank lines skipped."""
    if not p.is_file():
        raise DataError(f"graph data: {str(p)!r} does not exist (a graph directory holds "
                        f"{NODES} and {EDGES})")
    try:
        with p.open(newline="") as f:
            rows = [(n, r) for n, r in enumerate(csv.reader(f), start=1)
                    if any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{p.name}: cannot read CSV ({e})") from None
    if len(rows) < 2:
        raise DataError(f"{p.name}: needs a header row and at least one data row")
    header = [h.strip() for h in rows[0][1]]
    for n, r in rows[1:]:
        if len(r) != len(header):
            raise DataError(f"{p.name}: line {n} has {len(r)} fields, the header has "
                            f"{len(header)}")
    return header, rows[1:]


def _column(p: Path, header: list[str], name: str, what: str) -> int:
    if name not in header:
        raise DataError(f"{p.name}: no {what} column {name!r}; columns: {', '.join(header)}")
    return header.index(name)


def _read_nodes(p: Path, label: str, split_column: str | None,
                ) -> tuple[list[str], np.ndarray, list[str], list[str] | None]:
    header, rows = _rows(p)
    ii = _column(p, header, "id", "node id")
    li = _column(p, header, label, "label")
    si = None if split_column is None else _column(p, header, split_column, "split")
    if len({ii, li, si} - {None}) < (3 if si is not None else 2):
        raise DataError(f"{p.name}: the id, label and split columns must be different columns")
    feats = [j for j in range(len(header)) if j not in (ii, li, si)]
    names: list[str] = []
    seen: dict[str, int] = {}
    labels: list[str] = []
    marks: list[str] = []
    x = np.zeros((len(rows), len(feats)), dtype=np.float64)
    for r, (n, row) in enumerate(rows):
        name = row[ii].strip()
        if not name:
            raise DataError(f"{p.name}: line {n}: the node id is empty")
        if name in seen:
            raise DataError(f"{p.name}: line {n} repeats node id {name!r} (line {seen[name]})")
        seen[name] = n
        names.append(name)
        if not row[li].strip():
            raise DataError(f"{p.name}: line {n}: node {name!r} has no label")
        labels.append(row[li].strip())
        if si is not None:
            mark = row[si].strip().lower()
            if mark not in SPLIT_VALUES:
                raise DataError(f"{p.name}: line {n}, column {split_column!r}: {row[si]!r} is "
                                f"neither train nor test")
            marks.append(mark)
        for j, col in enumerate(feats):
            try:
                x[r, j] = float(row[col])
            except ValueError:
                raise DataError(f"{p.name}: line {n}, column {header[col]!r}: {row[col]!r} is "
                                "not a number (every column but id, label and the split "
                                "column is a feature)") from None
    if len(names) < 10:
        raise DataError(f"{p.name}: {len(names)} nodes are too few to split into training and "
                        "test nodes (need >= 10)")
    if not np.all(np.isfinite(x)):
        raise DataError(f"{p.name}: the features hold NaN or infinite values")
    if not feats:  # no features: each node is its own one-hot feature (as the karate club)
        x = np.eye(len(names))
    else:
        sd = x.std(axis=0)
        x = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    return names, x.astype(np.float32), labels, marks if si is not None else None


def _read_edges(p: Path, index: dict[str, int],
                ) -> tuple[np.ndarray, tuple[str, ...] | None]:
    header, rows = _rows(p)
    si = _column(p, header, "source", "source")
    ti = _column(p, header, "target", "target")
    ki = header.index("type") if "type" in header else None
    first: dict[tuple[int, int], int] = {}
    us, vs, types = [], [], []
    for n, row in rows:
        ends = []
        for col in (si, ti):
            name = row[col].strip()
            if name not in index:
                raise DataError(f"{p.name}: line {n}: node {name!r} is not in {NODES}")
            ends.append(index[name])
        u, v = min(ends), max(ends)
        if u == v:
            raise DataError(f"{p.name}: line {n}: a self-loop on node {row[si].strip()!r} (an "
                            "edge joins two different nodes)")
        if (u, v) in first:
            raise DataError(f"{p.name}: line {n} repeats the edge {row[si].strip()!r}-"
                            f"{row[ti].strip()!r} of line {first[u, v]} (edges are "
                            "undirected: list each once)")
        first[u, v] = n
        us.append(u)
        vs.append(v)
        if ki is not None:
            if not row[ki].strip():
                raise DataError(f"{p.name}: line {n}: the edge type is empty")
            types.append(row[ki].strip())
    edges = canonical_edges(np.array(us), np.array(vs))
    if ki is None:
        return edges, None
    by_pair = {(u, v): t for u, v, t in zip(us, vs, types, strict=True)}
    return edges, tuple(by_pair[int(u), int(v)] for u, v in edges)
