"""The graph evaluation suite (METRICS.md, "Graphs") for every role in ``models``.

* Forget acc — accuracy on the forget rows, queried on the training graph (the deleted data
  present, as the original saw it): a deleted node, a node whose features were deleted, or
  for an edge request the training nodes at the ends of the deleted edges.
* Retain acc / Test acc — accuracy on the retained training nodes / the test nodes, on the
  retained graph (what every model serves after the deletion).
* Link AUC — the link-stealing attack (``metrics.graph.link_stealing_auc``) on the
  deleted edges against as many never-linked node pairs, posteriors from the query graph;
  None for a feature request (it deletes no edge).
* Graph gap (headline) — mean |model - oracle| over the four (three for a feature request).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from torch import nn

from obliviate.metrics.classification import accuracy, per_class_accuracy
from obliviate.metrics.graph import GRAPH_GAP_METRICS, graph_gap, link_scores, link_stealing_auc
from obliviate.metrics.registry import METRICS
from obliviate.tasks.graph.graphs import QUERY, RETAINED, TRAINING
from obliviate.tasks.graph.probe import rows_of, softmax, view_logits

if TYPE_CHECKING:
    from obliviate.tasks.graph.scenario import GraphData

HEADLINE = "Graph gap"


def evaluate(models: dict[str, nn.Module], data: GraphData,
             ) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
    """(metrics, record fields, link-score arrays for the sidecar)."""
    values: dict[str, dict[str, float | None]] = {}
    per_sample: dict[str, dict[str, list[float]]] = {m: {} for m in GRAPH_GAP_METRICS}
    per_class: dict[str, list[float | None]] = {}
    arrays: dict[str, np.ndarray] = {}
    forgotten, absent = data.link_pairs()
    for role, model in models.items():
        logits = view_logits(model, data.task, (TRAINING, RETAINED, QUERY))
        v: dict[str, float | None] = {}
        for name, split in (("Forget acc", data.forget), ("Retain acc", data.retain),
                            ("Test acc", data.test)):
            acc = accuracy(rows_of(logits, split))
            v[name] = acc.value
            per_sample[name][role] = [float(c) for c in acc.per_sample]
        post = softmax(logits[QUERY])
        v["Link AUC"] = link_stealing_auc(post, forgotten, absent)
        arrays[f"{role}/links/forgotten"] = link_scores(post, forgotten).astype(np.float32)
        arrays[f"{role}/links/absent"] = link_scores(post, absent).astype(np.float32)
        values[role] = v
        pc = per_class_accuracy(rows_of(logits, data.test), data.n_classes)
        per_class[role] = [None if np.isnan(a) else float(a) for a in pc]
    metrics: dict[str, Any] = {}
    for name in (*GRAPH_GAP_METRICS, HEADLINE):
        info = METRICS[name]
        entry: dict[str, Any] = {"unit": info.unit, "higher_is_better": info.higher_is_better,
                                 "per_sample": per_sample.get(name, {})}
        for role in models:
            entry[role] = (graph_gap(values[role], values["oracle"]) if name == HEADLINE
                           else values[role][name])
        metrics[name] = entry
    fields = {"per_class_accuracy": per_class,
              "graph": {"request": data.request.kind, "forgotten_edges": len(forgotten),
                        "absent_pairs": len(absent), "views": {
                            "forget": "training graph", "retain": "retained graph",
                            "test": "retained graph", "links": "query graph"}}}
    return metrics, fields, arrays
