"""S3T: Sequence-aware Sharded Sliced Training (Chowdhury et al., "Towards Scalable Exact
Machine Unlearning Using Parameter-Efficient Fine-Tuning").

SISA's layout (``sisa.layout``: S shards, each of R slices, a keyed hash of (seed, row id))
with a different per-shard model. Each shard holds, on a *frozen* base, a stack of L = R
parameter-efficient layers trained in sequence: layer l (0-based) is trained on the first
l + 1 slices of an order pi, with layers 0..l-1 frozen (S3T Sec. 3, "sequential slice-wise
training"). A deletion from slice j does not retrain: in every order, the layers from j's
position onwards saw the row and are *deactivated*; the shard serves with the layers before
it. Each shard trains several orders (permutations of its slices), and after a deletion it
serves the order whose usable prefix is longest (S3T Sec. 3.2), so service survives more
deletions. When some shard has no usable layer left in any order, that shard is retrained
from scratch on its retained rows (``retrains`` counts these; ``absorbed`` counts the
requests honoured without any training).

Choices (each a config field where it is a number):

* **Frozen base.** A fixed random ReLU feature layer ``phi(x) = ReLU(x G + c)``, G ~ N(0, 1/d),
  c ~ N(0, 1), drawn from the seed alone, as ACU's (``analytic.random_features``). The paper
  fine-tunes a pretrained transformer; a base that has seen none of the training rows is
  what makes the guarantee hold, and a data-free one needs no "public" data set here.
* **Layers.** Layer l is a LoRA-style adapter on the (zero) classifier of the base: a rank-r
  update ``B_l A_l`` (B_l zero-initialised, A_l random, as LoRA) and a bias ``b_l``, so the
  logits with the first k layers are ``phi(x) (sum_{l<k} B_l A_l)^T + sum_{l<k} b_l``.
  The paper's layers sit at successive depths of a transformer; here they are additive
  updates of one head, so every prefix is a complete classifier (no head to refit when
  layers are dropped), which is the property deactivation needs.
  Deactivating layers is dropping their terms (and zeroing their tensors, so nothing held
  keeps a deleted row's influence); nothing is retrained.
* **Checkpoints** (optional, ``checkpoints.py``): a freshly trained shard stack is saved as
  safetensors under a hash of its rows, seed and config, and loaded instead of trained when
  that key exists; a deletion removes the shard's file (it holds the deactivated layers).
* **Saved state** (``save`` / ``load``, ``persist.py``): the stacks after deletions (their
  deactivated layers zeroed) as safetensors, and as JSON the deleted row ids, each shard's
  deleted slices (hence the order and layers served), the counters and a sha256 of the
  training rows, so a restarted process serves what the live one did and refuses a state
  saved over other rows.
* **Orders.** Cyclic rotations of the slices (order k = k, k+1, ..., k-1): every slice is
  first in exactly one order, the diversity the paper's permutation selection seeks with a
  budget of ``orders`` sequences. ``orders`` <= R.
* **Why exact.** Layer l of order pi in shard s is a deterministic function of the seed, the
  layers before it and the rows of slices pi[0..l] of shard s (sorted by id). A deletion
  leaves those rows unchanged for every layer it keeps serving, so the served layers are bit
  for bit the ones S3T trains from scratch on the retained rows (``test_s3t.py``).
* **Aggregation** as SISA's (``sisa.aggregate``): mean softmax (default) or majority vote.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from obliviate.guaranteed.analytic import random_features
from obliviate.guaranteed.checkpoints import CheckpointStore
from obliviate.guaranteed.guarantee import EXACT, Deletion
from obliviate.guaranteed.persist import read_state, write_state
from obliviate.guaranteed.sisa import AGGREGATIONS, aggregate, layout, rows_hash
from obliviate.types import Split

Selection = dict[int, tuple[int, int]]  # shard -> (order served, layers served)
FORMAT = 1


@dataclass(frozen=True)
class S3TConfig:
    shards: int = 5  # S, as SISA's default, so the two are compared on the same layout
    slices: int = 4  # R = L, one PEFT layer per slice (S3T trains layer l on slices 1..l)
    # Slice orders trained per shard (the paper's budget B of sequences); cyclic rotations.
    orders: int = 2
    rank: int = 8  # LoRA rank r of each layer's update (the paper uses small ranks)
    width: int = 512  # width of the frozen random feature base
    epochs_per_layer: int = 20  # our choice for digits: each layer sees its prefix 20 times
    lr: float = 0.01  # Adam, our choice for digits
    batch_size: int = 32
    aggregation: str = "mean"  # "mean" softmax or "vote", as SISA

    def __post_init__(self) -> None:
        bad = [f"{k}={v} (want >= 1)" for k, v in
               (("shards", self.shards), ("slices", self.slices), ("orders", self.orders),
                ("rank", self.rank), ("width", self.width),
                ("epochs_per_layer", self.epochs_per_layer),
                ("batch_size", self.batch_size)) if not v >= 1]
        if self.orders > self.slices:
            bad.append(f"orders={self.orders} (want <= slices={self.slices}: cyclic rotations)")
        if not self.lr > 0:
            bad.append(f"lr={self.lr} (want > 0)")
        if self.aggregation not in AGGREGATIONS:
            bad.append(f"aggregation={self.aggregation!r} (valid: {', '.join(AGGREGATIONS)})")
        if bad:
            raise ValueError(f"S3TConfig: {', '.join(bad)}")


def rotation(order: int, slices: int) -> list[int]:
    """Order ``order``: the slices rotated to start at ``order``."""
    return [(order + i) % slices for i in range(slices)]


def usable_prefix(order: list[int], deleted_slices: set[int]) -> int:
    """Layers of ``order`` still usable: those trained before the first deleted slice."""
    for pos, slc in enumerate(order):
        if slc in deleted_slices:
            return pos
    return len(order)


def best_order(orders: list[list[int]], deleted_slices: set[int]) -> tuple[int, int]:
    """(order index, usable layers) of the order whose prefix avoids the deleted slices
    longest; ties go to the lowest index."""
    lengths = [usable_prefix(o, deleted_slices) for o in orders]
    k = int(np.argmax(lengths))
    return k, lengths[k]


class Stack(nn.Module):
    """One shard's orders x layers of low-rank adapters on the frozen base's zero head."""

    def __init__(self, orders: int, layers: int, width: int, rank: int, classes: int,
                 seed: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.A = nn.Parameter(torch.randn(orders, layers, rank, width, generator=g)
                              / width ** 0.5)
        self.B = nn.Parameter(torch.zeros(orders, layers, classes, rank))
        self.b = nn.Parameter(torch.zeros(orders, layers, classes))

    def logits(self, phi: torch.Tensor, order: int, upto: int) -> torch.Tensor:
        """Logits with layers 0..upto-1 of ``order`` (the later layers contribute nothing)."""
        w = torch.einsum("lcr,lrw->cw", self.B[order, :upto], self.A[order, :upto])
        return phi @ w.T + self.b[order, :upto].sum(0)


class S3T:
    """An S3T ensemble over ``split`` (rows in id order): layout, stacks and what is served."""

    def __init__(self, split: Split, cfg: S3TConfig, n_classes: int, *, seed: int,
                 store: CheckpointStore | None = None) -> None:
        if len(split) == 0:
            raise ValueError("S3T: no training rows")
        if cfg.shards > len(split):
            raise ValueError(f"S3T: shards={cfg.shards} is more than the {len(split)} "
                             "training rows")
        self.split = split.subset(np.argsort(split.ids, kind="stable"), "train")
        self.cfg, self.n_classes, self.seed = cfg, n_classes, seed
        self.shard_of, self.slice_of = layout(self.split.ids, cfg.shards, cfg.slices, seed)
        self.alive = np.ones(len(self.split), dtype=bool)
        self.orders = [rotation(k, cfg.slices) for k in range(cfg.orders)]
        self.deleted: dict[int, set[int]] = {s: set() for s in range(cfg.shards)}
        self.stacks: dict[int, Stack] = {}
        self.absorbed = 0  # requests honoured with no training at all
        self.retrains = 0  # shard retrains forced by a shard with no usable layer
        self.layers_trained = 0
        self.store = store  # optional: each shard's trained stack, keyed by its rows
        self.keys: dict[int, str] = {}

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The frozen base: a function of (input size, width, seed) only (module docstring)."""
        flat = x.reshape(len(x), -1).double()
        g, c = random_features(flat.shape[1], self.cfg.width, self.seed)
        return torch.relu(flat @ torch.from_numpy(g) + torch.from_numpy(c)).float()

    # -- training --
    def fit(self) -> dict[str, Any]:
        for s in range(self.cfg.shards):
            self._train_shard(s)
        return {"layers_trained": self.layers_trained}

    def _rows(self, shard: int, slices: list[int]) -> np.ndarray:
        """Positions of the live rows of ``shard`` in ``slices`` (in id order)."""
        return np.nonzero(self.alive & (self.shard_of == shard)
                          & np.isin(self.slice_of, slices))[0]

    def _train_shard(self, shard: int) -> None:
        cfg = self.cfg
        self.deleted[shard] = set()
        if len(self._rows(shard, list(range(cfg.slices)))) == 0:
            self.stacks.pop(shard, None)
            return
        base = self.seed * 1009 + shard
        stack = Stack(cfg.orders, cfg.slices, cfg.width, cfg.rank, self.n_classes, base)
        key = self._key(shard)
        if self.store is not None and key in self.store:
            self.store.load(key, stack)
            self.keys[shard], self.stacks[shard] = key, stack.eval()
            return
        for k, order in enumerate(self.orders):
            for layer in range(cfg.slices):
                pos = self._rows(shard, order[:layer + 1])
                if len(pos):  # a layer over empty slices stays zero (contributes nothing)
                    self._train_layer(stack, k, layer, pos, seed=(base * 131 + k) * 131 + layer)
                self.layers_trained += 1
        if self.store is not None:
            self.store.save(key, stack)
        self.keys[shard], self.stacks[shard] = key, stack.eval()

    def _digest(self, pos: np.ndarray) -> str:
        """sha256 of the rows at ``pos``: ids, slices, targets and inputs."""
        h = hashlib.sha256()
        for a in (self.split.ids[pos].astype(np.int64), self.slice_of[pos],
                  self.split.targets[pos].numpy().astype(np.int64),
                  np.ascontiguousarray(self.split.inputs[pos].numpy())):
            h.update(a.tobytes())
        return h.hexdigest()

    def _key(self, shard: int) -> str:
        """Content address of a freshly trained stack: everything its weights depend on
        (the shard's live rows with their slices, targets and inputs; seed; config)."""
        pos = self._rows(shard, list(range(self.cfg.slices)))
        spec = {"format": FORMAT, "method": "s3t", "shard": shard, "seed": self.seed,
                "classes": self.n_classes, "rows": self._digest(pos),
                "config": dataclasses.asdict(self.cfg), "torch": torch.__version__.split("+")[0]}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]

    def _train_layer(self, stack: Stack, order: int, layer: int, pos: np.ndarray,
                     seed: int) -> None:
        """Adam on layer ``layer`` of ``order`` only; every earlier layer is frozen (its
        tensors enter as constants), later ones are not in the forward at all."""
        cfg = self.cfg
        phi = self.features(self.split.inputs[pos])
        y = self.split.targets[pos].long()
        a = stack.A[order, layer].detach().clone().requires_grad_(True)
        bm = stack.B[order, layer].detach().clone().requires_grad_(True)
        bias = stack.b[order, layer].detach().clone().requires_grad_(True)
        with torch.no_grad():
            frozen = stack.logits(phi, order, layer)
        opt = torch.optim.Adam([a, bm, bias], lr=cfg.lr)
        g = torch.Generator().manual_seed(seed)
        for _ in range(cfg.epochs_per_layer):
            perm = torch.randperm(len(pos), generator=g)
            for i in range(0, len(pos), cfg.batch_size):
                idx = perm[i:i + cfg.batch_size]
                out = frozen[idx] + phi[idx] @ (bm @ a).T + bias
                loss = nn.functional.cross_entropy(out, y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            stack.A[order, layer] = a
            stack.B[order, layer] = bm
            stack.b[order, layer] = bias

    # -- serving --
    def selection(self) -> Selection:
        """Per non-empty shard: the order served and how many of its layers."""
        return {s: best_order(self.orders, self.deleted[s]) for s in sorted(self.stacks)}

    def served_state(self, selection: Selection | None = None) -> dict[str, torch.Tensor]:
        """The tensors the served model computes with: per shard, the first k layers of the
        served order (those a deletion leaves in place)."""
        sel = self.selection() if selection is None else selection
        out = {}
        for s, (k, n) in sel.items():
            st = self.stacks[s]
            for name, t in (("A", st.A), ("B", st.B), ("b", st.b)):
                out[f"{s}.{k}.{name}"] = t[k, :n].detach().clone()
        return out

    def scores(self, x: torch.Tensor, selection: Selection | None = None) -> torch.Tensor:
        """(n, C) aggregated scores (as SISA's ensemble: log mean probability or votes)."""
        sel = self.selection() if selection is None else selection
        if any(n == 0 for _, n in sel.values()):
            raise ValueError("S3T: a shard has no usable layer; retrain it first")
        phi = self.features(x)
        with torch.no_grad():
            probs = torch.stack([self.stacks[s].logits(phi, k, n).softmax(1)
                                 for s, (k, n) in sel.items()])
        return aggregate(probs, self.cfg.aggregation)

    def predict(self, x: torch.Tensor) -> np.ndarray:
        return np.asarray(self.scores(x).argmax(1).numpy())

    # -- deletion --
    def delete(self, ids: np.ndarray) -> Deletion:
        """Forget rows by id: deactivate, in every order of their shards, the layers trained
        on and after their slices; retrain a shard only if no order has a usable layer."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            raise ValueError("S3T.delete: no rows to delete")
        pos = np.minimum(np.searchsorted(self.split.ids, ids), len(self.split) - 1)
        known = (self.split.ids[pos] == ids) & self.alive[pos]
        if not known.all() or len(np.unique(ids)) != len(ids):
            bad = ids[~known][:5].tolist()
            raise ValueError(f"S3T.delete: rows {bad or 'repeated'} are not in the training "
                             "set (never trained on, already deleted, or repeated)")
        if int(self.alive.sum()) == len(ids):
            raise ValueError("S3T.delete: that would delete every training row; train anew")
        start = time.perf_counter()
        self.alive[pos] = False
        affected = sorted({int(s) for s in self.shard_of[pos]})
        shards: dict[str, Any] = {}
        retrained = []
        for s in affected:
            new = {int(j) for j in self.slice_of[pos][self.shard_of[pos] == s]}
            self.deleted[s] |= new
            deactivated = {str(k): list(range(usable_prefix(o, self.deleted[s]),
                                              self.cfg.slices))
                           for k, o in enumerate(self.orders)}
            self._purge(s, deactivated)
            k, n = best_order(self.orders, self.deleted[s])
            # The stored stack holds the layers just zeroed in memory: remove it.
            stale = self.keys.pop(s, None)
            held = stale is not None and self.store is not None and self.store.remove(stale)
            purged = [stale] if held else []
            entry: dict[str, Any] = {"deleted_slices": sorted(new),
                                     "deactivated_layers": deactivated,
                                     "purged_checkpoints": purged}
            if n == 0:
                self._train_shard(s)
                retrained.append(s)
                self.retrains += 1
                k, n = (0, self.cfg.slices) if s in self.stacks else (0, 0)
            entry.update(self._served_evidence(s, k, n))
            shards[str(s)] = entry
        if not retrained:
            self.absorbed += 1
        return Deletion("s3t", len(ids), time.perf_counter() - start, EXACT, {
            "shards": shards, "retrained_shards": retrained,
            "untouched_shards": [s for s in range(self.cfg.shards) if s not in affected],
            "absorbed_requests": self.absorbed, "retrains": self.retrains})

    def _purge(self, shard: int, deactivated: dict[str, list[int]]) -> None:
        """Zero the deactivated layers: they saw a deleted row, and a tensor kept in memory
        (or written out later) must not carry its influence. A zero layer adds nothing to
        the logits, so this changes no served output."""
        st = self.stacks[shard]
        with torch.no_grad():
            for k, layers in deactivated.items():
                for t in (st.A, st.B, st.b):
                    t[int(k), layers] = 0.0

    def _served_evidence(self, shard: int, order: int, layers: int) -> dict[str, Any]:
        """The order and layers served, and sha256 of the sorted ids each served layer was
        trained on (slices order[0..l] of the shard, deleted rows excluded by construction)."""
        o = self.orders[order]
        return {"served_order": order, "order_slices": o, "served_layers": layers,
                "served_layer_rows_sha256": [
                    rows_hash(self.split.ids[self._rows(shard, o[:i + 1])])
                    for i in range(layers)]}

    def usable_layers(self) -> dict[int, int]:
        return {s: n for s, (_, n) in self.selection().items()}

    # -- saved state (module docstring, "Saved state") --
    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """(tensors, JSON-ready meta): everything a restarted process needs to serve and to
        honour further deletions as this object does."""
        tensors = {f"{s}.{name}": t.detach().clone() for s, st in self.stacks.items()
                   for name, t in (("A", st.A), ("B", st.B), ("b", st.b))}
        meta = {"format": FORMAT, "method": "s3t", "config": dataclasses.asdict(self.cfg),
                "seed": self.seed, "classes": self.n_classes,
                "train_rows_sha256": self._digest(np.arange(len(self.split))),
                "deleted_ids": [int(i) for i in self.split.ids[~self.alive]],
                "deleted_slices": {str(s): sorted(v) for s, v in self.deleted.items()},
                "shards": sorted(self.stacks), "keys": {str(s): k for s, k in self.keys.items()},
                "absorbed": self.absorbed, "retrains": self.retrains,
                "layers_trained": self.layers_trained}
        return tensors, meta

    @classmethod
    def from_state(cls, split: Split, tensors: dict[str, torch.Tensor], meta: dict[str, Any],
                   *, store: CheckpointStore | None = None) -> S3T:
        """The S3T ``state()`` describes, over the training rows ``split`` it was trained
        on (refused, naming the mismatch, if they are other rows or another format)."""
        if meta.get("format") != FORMAT or meta.get("method") != "s3t":
            raise ValueError(f"S3T state: format {meta.get('format')!r} of method "
                             f"{meta.get('method')!r}; this code reads s3t format {FORMAT}")
        m = cls(split, S3TConfig(**meta["config"]), int(meta["classes"]), seed=int(meta["seed"]),
                store=store)
        if m._digest(np.arange(len(m.split))) != meta["train_rows_sha256"]:
            raise ValueError("S3T state: saved over other training rows (their sha256 differs)")
        m.alive = ~np.isin(m.split.ids, np.asarray(meta["deleted_ids"], dtype=np.int64))
        m.deleted = {int(s): set(v) for s, v in meta["deleted_slices"].items()}
        m.keys = {int(s): str(k) for s, k in meta["keys"].items()}
        m.absorbed, m.retrains = int(meta["absorbed"]), int(meta["retrains"])
        m.layers_trained = int(meta["layers_trained"])
        for s in meta["shards"]:
            st = Stack(m.cfg.orders, m.cfg.slices, m.cfg.width, m.cfg.rank, m.n_classes, 0)
            st.load_state_dict({n: tensors[f"{s}.{n}"] for n in ("A", "B", "b")}, strict=True)
            m.stacks[int(s)] = st.eval()
        return m

    def save(self, directory: str | Path) -> Path:
        """Write ``state()`` atomically to ``directory`` (``persist.py``)."""
        tensors, meta = self.state()
        return write_state(directory, "s3t", tensors, meta)

    @classmethod
    def load(cls, directory: str | Path, split: Split, *,
             store: CheckpointStore | None = None) -> S3T:
        tensors, meta = read_state(directory, "s3t")
        return cls.from_state(split, tensors, meta, store=store)

