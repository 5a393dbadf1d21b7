"""Graph scenarios: a graph, a seeded train/test split of its nodes, a GCN and its recipe;
built for one forget request, a ``GraphData`` (the ``Experiment`` of the graph kind).

Transductive node classification, as GCNs are usually trained: every node's features and
edges are in the graph; the labels of the test nodes are not trained on and reach only the
evaluation. The original trains on every training node of the training graph, the oracle
and the noise floor on the retained nodes of the retained graph (``graphs.py``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from obliviate.errors import ObliviateError
from obliviate.experiment import Evaluation, role_seed
from obliviate.metrics.graph import absent_pairs
from obliviate.tasks.graph.data import Graph
from obliviate.tasks.graph.forget import Request, canonical_forget, select_forget
from obliviate.tasks.graph.graphs import RETAINED, TRAINING, forgotten_edges, views
from obliviate.tasks.graph.task import GraphTask, node_rows
from obliviate.types import Batch, Split, TrainRecipe, UnlearnData

SPLIT_SEED = 0  # the train/test split of the nodes is fixed per scenario, not per run seed
_LINK_STREAM = 0x6C696E6B  # "link": the never-linked pairs' own random stream


@dataclass(frozen=True)
class GraphScenario:
    name: str
    description: str
    load: Callable[[], Graph]
    hidden: int = 64
    recipe: TrainRecipe = field(default_factory=TrainRecipe)
    test_fraction: float = 0.3
    data_path: str | None = None  # a user's graph directory (``user.py``)
    label: str | None = None
    split_column: str | None = None
    kind: str = "graph"
    supports_lora = False
    model = "gcn"

    def with_data(self, path: str, label: str | None, split_column: str | None = None,
                  test: str | None = None) -> GraphScenario:
        """The user's graph directory (nodes.csv, edges.csv) in place of the bundled graph,
        trained with this scenario's recipe."""
        from obliviate.tasks.graph.user import read_graph_dir

        if test is not None:
            raise ObliviateError("--test is for classifier data; give a graph's test nodes "
                                 "with --split-column (a nodes.csv column of train/test)")
        read_graph_dir(path, label, split_column)  # fail now, with the file's own error
        return dataclasses.replace(
            self, name=f"{self.name}:{path}", description=f"user graph from {path}",
            load=lambda: read_graph_dir(path, label, split_column), data_path=path,
            label=label, split_column=split_column)

    def split(self, graph: Graph) -> tuple[np.ndarray, np.ndarray]:
        """Sorted node ids of the training and test nodes."""
        if graph.split is not None:
            marks = np.array(graph.split)
            train, test = np.flatnonzero(marks == "train"), np.flatnonzero(marks == "test")
        else:
            order = np.random.default_rng(SPLIT_SEED).permutation(graph.n_nodes)
            n_test = int(round(self.test_fraction * graph.n_nodes))
            train, test = np.sort(order[n_test:]), np.sort(order[:n_test])
        if len(train) < 2 or len(test) < 1:
            raise ObliviateError(f"graph {graph.name!r}: {len(train)} training and {len(test)} "
                                 "test nodes; need >= 2 and >= 1")
        return train, test

    @property
    def split_source(self) -> str:
        if self.split_column is not None:
            return f"the node table's {self.split_column!r} column"
        return f"seeded (seed {SPLIT_SEED}): {self.test_fraction:.0%} of the nodes test"

    def build(self, forget: str, seed: int, model: str | None = None) -> GraphData:
        if model is not None and model != self.model:
            raise ObliviateError(f"graph scenarios train a GCN; --model {model!r} is not one "
                                 f"(valid: {self.model})")
        graph = self.load()
        train, test = self.split(graph)
        forget = canonical_forget(forget)
        request = select_forget(forget, graph, train, seed)
        return GraphData(scenario=self.name, forget_spec=forget, seed=seed, graph=graph,
                         train_nodes=train, test_nodes=test, request=request,
                         recipe=self.recipe, hidden=self.hidden,
                         split_source=self.split_source)


@dataclass(frozen=True, eq=False)
class GraphData:
    scenario: str
    forget_spec: str
    seed: int
    graph: Graph
    train_nodes: np.ndarray
    test_nodes: np.ndarray
    request: Request
    recipe: TrainRecipe
    hidden: int
    split_source: str

    # ---- the graph and its rows ----
    @property
    def n_classes(self) -> int:
        return len(self.graph.classes)

    @cached_property
    def task(self) -> GraphTask:
        return GraphTask(views(self.graph, self.request), self.n_classes)

    @cached_property
    def forget(self) -> Split:
        """The deleted (or feature-deleted) nodes; for an edge request, the training nodes at
        the ends of the deleted edges. On the training graph, where the deleted data is."""
        if self.request.kind == "edges":
            nodes = np.intersect1d(self.graph.edges[self.request.edges].ravel(),
                                   self.train_nodes)
        else:
            nodes = self.request.nodes
        return node_rows("forget", nodes, TRAINING, self.graph.y)

    @cached_property
    def retain(self) -> Split:
        """Every training node the request leaves its label, on the retained graph."""
        drop = self.request.nodes if self.request.kind != "edges" else np.zeros(0, np.int64)
        return node_rows("retain", np.setdiff1d(self.train_nodes, drop), RETAINED,
                         self.graph.y)

    @cached_property
    def test(self) -> Split:
        return node_rows("test", self.test_nodes, RETAINED, self.graph.y)

    def train_split(self) -> Split:
        return node_rows("train", self.train_nodes, TRAINING, self.graph.y)

    def link_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(deleted edges, as many node pairs never linked in the training graph)."""
        forgotten = self.graph.edges[forgotten_edges(self.graph, self.request)]
        absent = absent_pairs(self.graph.n_nodes, self.graph.edges, len(forgotten),
                              seed=int(np.random.default_rng([self.seed, _LINK_STREAM])
                                       .integers(2**31)))
        return forgotten, absent

    def unlearn_data(self) -> UnlearnData:
        return UnlearnData(forget=self.forget, retain=self.retain, recipe=self.recipe)

    # ---- models ----
    def _rows_for(self, role: str) -> Split:
        return self.train_split() if role == "original" else self.retain

    def model_key(self, role: str) -> str:
        """Hash of what determines the model of ``role``: the graph it trains on (features
        and edges of its view), its rows and labels, the model, recipe and seed. The noise
        floor is the oracle's training under another seed."""
        rows = self._rows_for(role)
        g = self.task.graphs[TRAINING if role == "original" else RETAINED]
        h = hashlib.sha256()
        for t in (g.x, g.edge_index, rows.inputs, rows.targets):
            h.update(str(tuple(t.shape)).encode())
            h.update(np.ascontiguousarray(t.numpy()).tobytes())
        spec = {"format": 1, "kind": "graph", "scenario": self.scenario,
                "graph": self.graph.fingerprint(), "train": h.hexdigest(),
                "model": {"name": "gcn", "hidden": self.hidden}, "recipe": asdict(self.recipe),
                "seed": role_seed(self.seed, role), "torch": torch.__version__.split("+")[0]}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]

    # ---- the Experiment protocol (obliviate.experiment) ----
    kind = "graph"

    @property
    def unit_name(self) -> str:
        return "edges" if self.request.kind == "edges" else "nodes"

    @property
    def forget_metric(self) -> str:
        return ("accuracy on the deleted edges' training endpoints" if self.request.kind ==
                "edges" else "forget accuracy")

    def new_model(self, role: str) -> nn.Module:
        from obliviate.tasks.graph.models import build_gcn

        return build_gcn(self.graph.x.shape[1], self.hidden, self.n_classes,
                         role_seed(self.seed, role))

    def train(self, model: nn.Module, role: str, *, progress: bool) -> dict[str, Any]:
        from obliviate.tasks.graph.training import train_gcn

        train_gcn(model, self._rows_for(role), self.task, self.recipe,
                  seed=role_seed(self.seed, role), desc=f"train {role}", progress=progress)
        return {}

    def exporter(self, model: nn.Module) -> Callable[[Path], None] | None:
        return None

    def evaluate(self, models: dict[str, nn.Module], *, progress: bool) -> Evaluation:
        from obliviate.tasks.graph.evaluation import evaluate
        from obliviate.tasks.graph.features import graph_arrays

        metrics, fields, links = evaluate(models, self)
        return Evaluation(metrics, fields, {**graph_arrays(models, self), **links})

    def sizes(self) -> dict[str, int]:
        return {"forget": len(self.forget), "retain": len(self.retain),
                "test": len(self.test), "nodes": self.graph.n_nodes,
                "edges": len(self.graph.edges),
                "forgotten_edges": len(forgotten_edges(self.graph, self.request))}

    def record_fields(self) -> dict[str, Any]:
        r = self.request
        units = ([self.graph.edge_name(e) for e in r.edges] if r.kind == "edges" else
                 [self.graph.nodes[i] for i in r.nodes])
        return {"model": f"gcn hidden={self.hidden}", "split": self.split_source,
                "sizes": self.sizes(), "recipe": asdict(self.recipe),
                "classes": list(self.graph.classes),
                "data_fingerprint": self.graph.fingerprint(), "request": r.kind,
                "forget_units": units}

    def warm_up_batch(self) -> Batch:
        return next(self.retain.batches(32))

    def attack_rows(self) -> Split:
        return self.forget

    def utility_rows(self) -> Split:
        return self.retain

    def attack_groups(self, rows: Split) -> np.ndarray:
        return np.arange(len(rows))  # a node is its own group

    def forget_score(self, model: nn.Module, rows: Split) -> float:
        from obliviate.metrics.classification import accuracy
        from obliviate.tasks.graph.probe import rows_of, view_logits

        views_used = sorted({int(v) for v in rows.inputs[:, 1].tolist()})
        with torch.no_grad():
            return accuracy(rows_of(view_logits(model, self.task, views_used), rows)).value

    def units(self) -> list[Any]:
        return [int(u) for u in self.request.units]

    def with_forget(self, units: Sequence[Any], label: str) -> GraphData:
        return dataclasses.replace(self, forget_spec=label,
                                   request=self.request.with_units(np.asarray(units)))

    def with_seed(self, seed: int) -> GraphData:
        return dataclasses.replace(self, seed=seed)
