"""SISA: Sharded, Isolated, Sliced and Aggregated training (Bourtoule et al., "Machine
Unlearning", IEEE S&P 2021).

The training rows are split into S shards, one model per shard, and each shard into R
slices (Sec. IV). A shard's model is trained incrementally: on slice 1, then on slices
1..2, ..., then on slices 1..R, with a checkpoint after each slice (Sec. IV-B, "slicing").
Deleting a row retrains only its shard, starting from the checkpoint saved before the
slice the row was in; the other shards and the earlier slices are untouched.

Choices (each also a config field):

* **Layout.** A row's shard and slice are a keyed hash of (seed, row id): a pure function of
  the row, so the layout of the retained rows after a deletion is the layout SISA gives
  them when trained from scratch without the deleted rows. That is what makes the
  deletion exact: every shard model is a function of its own rows only. Shard sizes are
  therefore multinomial rather than equal (Bourtoule et al. assume uniform shards, Sec. IV-A).
* **Checkpoints.** Content-addressed (``checkpoints.py``): the key hashes the sorted ids
  trained on so far with their labels and inputs, the shard, the slice, the seed and the
  configuration. Resuming a shard is "walk its slices, load every key that exists, train
  from the first that does not"; after a deletion the checkpoints that held a deleted row
  are removed, so no file keeps its influence.
* **Epochs per slice.** ``2 e / (R + 1)`` for a recipe of ``e`` epochs (rounded up), so a
  shard trained over R growing slices processes about as many samples as e epochs on the
  whole shard: sum_r (r / R) n e' = n e' (R + 1) / 2. A fresh optimizer and learning-rate
  schedule per slice (the project's ``train``), so a checkpoint holds everything a resumed
  slice needs.
* **Aggregation.** ``"mean"`` (default): the ensemble's output is the mean of the shard
  models' softmax probabilities (its forward returns their log, usable as logits).
  ``"vote"``: the paper's majority vote of the shard labels (Sec. IV-A), ties to the lowest
  class; the forward returns the vote counts. The mean is the default because it breaks
  ties by confidence and gives the evaluation probabilities; both are tested.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from obliviate.guaranteed.checkpoints import CheckpointStore, MemoryStore
from obliviate.guaranteed.guarantee import EXACT, Deletion
from obliviate.tasks.classification.training import train
from obliviate.types import Split, Task, TrainRecipe

AGGREGATIONS = ("mean", "vote")
FORMAT = 1


@dataclass(frozen=True)
class SISAConfig:
    shards: int = 5  # S; the paper sweeps S (Sec. VI-A); 5 keeps digits' accuracy (seeds 3-4)
    slices: int = 4  # R; the paper sweeps R (Sec. VI-B); our choice for digits
    # Epochs of training after each slice; None: ceil(2 e / (R + 1)) for the recipe's e.
    epochs_per_slice: int | None = None
    aggregation: str = "mean"  # "mean" softmax or the paper's "vote" (module docstring)

    def __post_init__(self) -> None:
        bad = [f"{k}={v} (want >= 1)" for k, v in
               (("shards", self.shards), ("slices", self.slices)) if not v >= 1]
        if self.epochs_per_slice is not None and not self.epochs_per_slice >= 1:
            bad.append(f"epochs_per_slice={self.epochs_per_slice} (want >= 1 or None)")
        if self.aggregation not in AGGREGATIONS:
            bad.append(f"aggregation={self.aggregation!r} (valid: {', '.join(AGGREGATIONS)})")
        if bad:
            raise ValueError(f"SISAConfig: {', '.join(bad)}")

    def slice_epochs(self, recipe: TrainRecipe) -> int:
        if self.epochs_per_slice is not None:
            return self.epochs_per_slice
        return math.ceil(2 * recipe.epochs / (self.slices + 1))


def layout(ids: np.ndarray, shards: int, slices: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(shard, slice) of each row id: a keyed hash of (seed, id), independent of other rows."""
    shard = np.empty(len(ids), dtype=np.int64)
    slc = np.empty(len(ids), dtype=np.int64)
    for k, i in enumerate(np.asarray(ids, dtype=np.int64).tolist()):
        h = int.from_bytes(hashlib.sha256(f"sisa/{seed}/{i}".encode()).digest()[:16], "big")
        shard[k], slc[k] = h % shards, (h // shards) % slices
    return shard, slc


def rows_hash(ids: np.ndarray) -> str:
    """sha256 of sorted row ids (the evidence a record carries for each shard)."""
    return hashlib.sha256(np.sort(np.asarray(ids, dtype=np.int64)).tobytes()).hexdigest()


def aggregate(probs: torch.Tensor, how: str) -> torch.Tensor:
    """(S, n, C) shard probabilities -> (n, C) scores whose argmax is the ensemble's label:
    log of the mean probability, or the vote counts of the shard argmaxes."""
    if how == "mean":
        return probs.mean(dim=0).clamp_min(1e-30).log()
    if how == "vote":
        votes = nn.functional.one_hot(probs.argmax(dim=2), probs.shape[2])
        return votes.sum(dim=0).to(probs.dtype)
    raise ValueError(f"unknown aggregation {how!r}; valid: {', '.join(AGGREGATIONS)}")


class SISAEnsemble(nn.Module):
    """The shard models; ``forward`` aggregates them. Empty shards hold no model."""

    def __init__(self, models: dict[int, nn.Module], aggregation: str) -> None:
        super().__init__()
        self.shards = nn.ModuleDict({str(s): m for s, m in sorted(models.items())})
        self.aggregation = aggregation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([m(x).softmax(dim=1) for m in self.shards.values()])
        return aggregate(probs, self.aggregation)


class SISA:
    """A SISA ensemble over ``split`` (rows in id order), its layout and checkpoints.

    ``factory(seed)`` builds a fresh shard model; ``model_tag`` names it in checkpoint keys.
    """

    def __init__(self, split: Split, cfg: SISAConfig, recipe: TrainRecipe, task: Task,
                 factory: Callable[[int], nn.Module], model_tag: str,
                 store: CheckpointStore | MemoryStore,
                 *, seed: int) -> None:
        if len(split) == 0:
            raise ValueError("SISA: no training rows")
        if cfg.shards > len(split):
            raise ValueError(f"SISA: shards={cfg.shards} is more than the {len(split)} "
                             "training rows")
        order = np.argsort(split.ids, kind="stable")
        self.split = split.subset(order, "train")
        self.cfg, self.recipe, self.task = cfg, recipe, task
        self.factory, self.model_tag, self.store, self.seed = factory, model_tag, store, seed
        self.shard_of, self.slice_of = layout(self.split.ids, cfg.shards, cfg.slices, seed)
        self.alive = np.ones(len(self.split), dtype=bool)
        self.models: dict[int, nn.Module] = {}
        self.chains: dict[int, list[str]] = {}  # each shard's checkpoint keys, slice by slice
        self.trained_slices = 0  # slices trained (not reused) over this object's life

    # -- training --
    def fit(self, *, progress: bool = False) -> dict[str, Any]:
        """Train (or load from checkpoints) every shard."""
        stats = {s: self._train_shard(s) for s in tqdm(range(self.cfg.shards), desc="sisa",
                                                       unit="shard", disable=not progress,
                                                       leave=False)}
        return {"shards": {str(s): v for s, v in stats.items()}}

    def ensemble(self) -> SISAEnsemble:
        return SISAEnsemble(self.models, self.cfg.aggregation).eval()

    def shard_rows(self, shard: int) -> np.ndarray:
        return np.asarray(self.split.ids[self.alive & (self.shard_of == shard)])

    def _keys(self, shard: int) -> list[str]:
        keys, cum = [], np.zeros(len(self.split), dtype=bool)
        for r in range(self.cfg.slices):
            cum |= self.alive & (self.shard_of == shard) & (self.slice_of == r)
            pos = np.nonzero(cum)[0]
            h = hashlib.sha256()
            h.update(self.split.ids[pos].astype(np.int64).tobytes())
            h.update(self.split.targets[pos].numpy().astype(np.int64).tobytes())
            h.update(np.ascontiguousarray(self.split.inputs[pos].numpy()).tobytes())
            spec = {"format": FORMAT, "shard": shard, "slice": r, "seed": self.seed,
                    "rows": h.hexdigest(), "config": dataclasses.asdict(self.cfg),
                    "recipe": dataclasses.asdict(self.recipe), "model": self.model_tag,
                    "torch": torch.__version__.split("+")[0]}
            keys.append(hashlib.sha256(json.dumps(spec, sort_keys=True).encode())
                        .hexdigest()[:32])
        return keys

    def _train_shard(self, shard: int) -> dict[str, Any]:
        """Resume ``shard`` from its last checkpoint whose rows are unchanged."""
        keys = self._keys(shard)
        rows = self.shard_rows(shard)
        if len(rows) == 0:
            self.models.pop(shard, None)
            self.chains[shard] = []
            return {"rows": 0, "rows_sha256": rows_hash(rows), "reused_slices": 0,
                    "trained_slices": 0}
        reused = 0
        while reused < len(keys) and keys[reused] in self.store:
            reused += 1
        model = self.factory(self._shard_seed(shard))
        if reused:
            self.store.load(keys[reused - 1], model)
        recipe = dataclasses.replace(self.recipe, epochs=self.cfg.slice_epochs(self.recipe))
        for r in range(reused, self.cfg.slices):
            cum = np.nonzero(self.alive & (self.shard_of == shard) & (self.slice_of <= r))[0]
            if len(cum):  # slices before the first non-empty one train nothing
                train(model, self.split.subset(cum), self.task, recipe,
                      seed=self._shard_seed(shard) * 131 + r, progress=False)
            self.store.save(keys[r], model)
            self.trained_slices += 1
        model.eval()
        self.models[shard] = model
        self.chains[shard] = keys
        return {"rows": int(len(rows)), "rows_sha256": rows_hash(rows), "reused_slices": reused,
                "trained_slices": self.cfg.slices - reused, "checkpoint": keys[-1]}

    def _shard_seed(self, shard: int) -> int:
        return self.seed * 1009 + shard

    # -- deletion --
    def delete(self, ids: np.ndarray, *, progress: bool = False) -> Deletion:
        """Forget rows by id: retrain only their shards, from the checkpoint before the
        earliest deleted slice, and remove every checkpoint that held a deleted row."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            raise ValueError("SISA.delete: no rows to delete")
        pos = np.searchsorted(self.split.ids, ids)
        pos = np.minimum(pos, len(self.split) - 1)
        known = (self.split.ids[pos] == ids) & self.alive[pos]
        if not known.all() or len(np.unique(ids)) != len(ids):
            bad = ids[~known][:5].tolist()
            raise ValueError(f"SISA.delete: rows {bad or 'repeated'} are not in the training "
                             "set (never trained on, already deleted, or repeated)")
        start = time.perf_counter()
        affected = sorted({int(s) for s in self.shard_of[pos]})
        earliest = {s: int(self.slice_of[pos][self.shard_of[pos] == s].min()) for s in affected}
        stale = {s: self.chains[s][earliest[s]:] for s in affected}
        self.alive[pos] = False
        shards = {}
        for s in tqdm(affected, desc="sisa delete", unit="shard", disable=not progress,
                      leave=False):
            shards[str(s)] = {"earliest_slice": earliest[s], **self._train_shard(s)}
            purged = [k for k in stale[s] if k not in self.chains[s] and self.store.remove(k)]
            shards[str(s)]["purged_checkpoints"] = purged
        seconds = time.perf_counter() - start
        return Deletion("sisa", len(ids), seconds, EXACT, {
            "retrained_shards": affected, "shards": shards,
            "untouched_shards": [s for s in range(self.cfg.shards) if s not in affected],
            "slices_trained": sum(v["trained_slices"] for v in shards.values()),
            "slices_total": self.cfg.shards * self.cfg.slices})
