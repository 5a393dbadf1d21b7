"""The arrays of a recommendation run's feature sidecar, in the classifier layout
(``obliviate.storage.sidecar``), so the report and the dashboard read them unchanged.

What the classifier keys mean here, per interaction (user u, item i) of a split:

* ``label/{s}`` is 1 for every row: each is an interaction the user chose;
* ``{r}/{s}/pred`` is 1 when the model ranks i in u's top ``HIT_K`` (known items filtered),
  else 0: the confusion view counts hits and misses, the "changed" view lists the
  interactions that enter or leave the top of the list between two models;
* ``{r}/{s}/confidence`` is the softmax probability of i over all items for u (the
  membership attack's feature, so the dashboard's MIA view compares forget with test rows);
* ``{r}/{s}/features`` is p_u * (q_i + W f_i), elementwise: the terms whose sum is the score;
* ``layers`` are the user embedding and the item vector; ``{r}/layer/{k}`` their values on a
  fixed probe set of interactions, for layer CKA.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from obliviate.storage import sidecar as sc
from obliviate.tasks.recommendation.models import BPRMF
from obliviate.tasks.recommendation.probe import evaluating, probe_pairs

if TYPE_CHECKING:
    from obliviate.tasks.recommendation.scenario import RecData

LAYER_NAMES = ("user embedding", "item vector")
_PROBE_STREAM = 0x70726F6265  # "probe": its own random stream, apart from the split subsets


def _vectors(model: nn.Module, users: np.ndarray, items: np.ndarray,
             ) -> tuple[np.ndarray, np.ndarray]:
    """(n, dim) user embeddings and item vectors (q_i + W f_i) of the pairs."""
    if not isinstance(model, BPRMF):
        raise TypeError(f"recommendation sidecars read BPRMF models, got {type(model).__name__}")
    with evaluating(model):
        user = model.user.weight[torch.as_tensor(users)]
        item = model.item_vectors()[torch.as_tensor(items)]
    return user.cpu().numpy().astype(np.float32), item.cpu().numpy().astype(np.float32)


def recommendation_arrays(models: Mapping[str, nn.Module], data: RecData, *, seed: int,
                          ) -> dict[str, np.ndarray]:
    """Every classifier key of the sidecar, for the roles in ``models``; each split capped
    at ``MAX_PER_SPLIT`` interactions (one seeded subset for every role)."""
    from obliviate.tasks.recommendation.scenario import HIT_K

    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    pairs = {}
    for s in (data.forget, data.retain, data.test):
        pos = np.arange(len(s))
        if len(s) > sc.MAX_PER_SPLIT:
            pos = np.sort(rng.choice(len(s), sc.MAX_PER_SPLIT, replace=False))
        part = s.subset(pos)
        pairs[s.name] = (part.inputs.numpy(), part.targets.numpy())
        arrays[sc.ids_key(s.name)] = part.ids.astype(np.int64)
        arrays[sc.label_key(s.name)] = np.ones(len(part), dtype=np.int64)
    # The probe set depends on the data and seed only (train and test rows, whatever is
    # forgotten), so every run of one scenario and seed probes the same interactions.
    every = np.concatenate([data.train_ids, data.test_ids])
    chosen = np.sort(np.random.default_rng([seed, _PROBE_STREAM]).permutation(len(every))
                     [:sc.MAX_PROBE])
    probe_ids = np.sort(every[chosen])
    arrays[sc.LAYERS] = np.array(LAYER_NAMES, dtype=np.str_)
    arrays[sc.PROBE_IDS] = probe_ids.astype(np.int64)
    for role, model in models.items():
        got = probe_pairs(model, pairs, data.known)
        for name, (users, items) in pairs.items():
            arrays[sc.pred_key(role, name)] = (got[name].rank <= HIT_K).astype(np.int64)
            arrays[sc.confidence_key(role, name)] = np.exp(got[name].log_confidence).astype(
                np.float32)
            user, item = _vectors(model, users, items)
            arrays[sc.features_key(role, name)] = (user * item).astype(np.float16)
        user, item = _vectors(model, data.data.user[probe_ids], data.data.item[probe_ids])
        arrays[sc.layer_key(role, 0)] = user
        arrays[sc.layer_key(role, 1)] = item
    return arrays
