"""The arrays of a graph run's feature sidecar: the classifier keys (``storage.sidecar``),
with nodes as the samples, so the report's and the dashboard's classifier views (confusion,
membership scores, projection, changed predictions, layer CKA) draw a graph run as they draw
a classifier's; plus the link-stealing scores (``evaluation``).

A split's rows are read on their own view (forget rows on the training graph, the rest on
the retained graph); ``features`` are the rows' node embeddings (``conv1``); the layer probe
is a seeded sample of nodes on the training graph, the same for every forget set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
from torch import nn

from obliviate.storage import sidecar as sc
from obliviate.tasks.graph.graphs import TRAINING
from obliviate.tasks.graph.models import EMBEDDING
from obliviate.tasks.graph.probe import rows_of, softmax, view_layers, view_logits

if TYPE_CHECKING:
    from obliviate.tasks.graph.scenario import GraphData

LAYERS = ("conv1", "conv2")
_PROBE_STREAM = 0x70726F6265  # "probe": apart from every other draw of the seed


def graph_arrays(models: Mapping[str, nn.Module], data: GraphData) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(data.seed)
    splits = {}
    arrays: dict[str, np.ndarray] = {}
    for s in (data.forget, data.retain, data.test):
        pos = np.arange(len(s))
        if len(s) > sc.MAX_PER_SPLIT:
            pos = np.sort(rng.choice(len(s), sc.MAX_PER_SPLIT, replace=False))
        splits[s.name] = s.subset(pos)
        arrays[sc.ids_key(s.name)] = splits[s.name].ids.astype(np.int64)
        arrays[sc.label_key(s.name)] = splits[s.name].targets.numpy().astype(np.int64)
    n = data.graph.n_nodes
    probe = np.sort(np.random.default_rng([data.seed, _PROBE_STREAM]).permutation(n)[
        :min(n, sc.MAX_PROBE)])
    arrays[sc.LAYERS] = np.array(LAYERS, dtype=np.str_)
    arrays[sc.PROBE_IDS] = probe.astype(np.int64)
    views = sorted({int(v) for s in splits.values() for v in s.inputs[:, 1].tolist()}
                   | {TRAINING})
    for role, model in models.items():
        logits = view_logits(model, data.task, views)
        emb = {v: view_layers(model, data.task, v, [EMBEDDING])[EMBEDDING] for v in views}
        for name, split in splits.items():
            out = rows_of(logits, split)
            prob = softmax(out.logits)
            arrays[sc.pred_key(role, name)] = out.logits.argmax(axis=1).astype(np.int64)
            arrays[sc.confidence_key(role, name)] = prob[np.arange(len(out.labels)),
                                                         out.labels].astype(np.float32)
            nodes, vs = split.inputs[:, 0].numpy(), split.inputs[:, 1].numpy()
            feats = np.stack([emb[int(v)][i] for i, v in zip(nodes, vs, strict=True)]) \
                if len(nodes) else np.zeros((0, 1))
            arrays[sc.features_key(role, name)] = feats.astype(np.float16)
        layers = view_layers(model, data.task, TRAINING, LAYERS)
        for k, layer in enumerate(LAYERS):
            arrays[sc.layer_key(role, k)] = layers[layer][probe].astype(np.float32)
    return arrays
