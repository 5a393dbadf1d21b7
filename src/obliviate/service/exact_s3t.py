"""The ``exact`` policy on an S3T deployment (``guaranteed/s3t.py``, ``--train s3t:...``): a
deletion deactivates, in every order of the affected shards, the layers that saw a deleted
row (no training); a shard is retrained on its retained rows only when no order keeps a
usable layer. Either way the served layers are bit for bit those of S3T trained from scratch
on the retained rows (s3t.py's docstring, "Why exact").

A model version is S3T's whole state (``S3T.state()``, the state ``S3T.save`` persists:
every shard's stack with its deactivated layers zeroed, and as JSON the deleted rows, each
shard's deleted slices, hence the order and layers served, and the counters), written as one
safetensors file by ``exact.write_version`` (temp file, fsync, rename; the JSON in the
header's metadata). A version is therefore self-contained: a worker, a restarted one too,
continues from the parent version's file (checked against the ledger's sha256), and the
served model of any version is ``load_version`` of its file. Which slices were deleted is
history, not a function of the deleted set (a retrain resets a shard's), so it has to travel
with the version: rebuilding from the deleted set, as SISA does, would not be exact here.
Fresh shard stacks are also kept in the deployment's checkpoint store (keyed by their rows),
so a job retried after a crash mid-retrain loads the stack instead of training it again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open

from obliviate.config import build_config, config_dict
from obliviate.guaranteed.checkpoints import CheckpointStore
from obliviate.guaranteed.s3t import S3T, S3TConfig, usable_prefix
from obliviate.guaranteed.sisa import layout, rows_hash
from obliviate.service import data as rows_of
from obliviate.service.data import file_sha256
from obliviate.service.exact import (
    ExactDeployment,
    _Store,
    delete_rows,
    manifest_rows,
    shards_of,
    write_version,
)
from obliviate.types import Split

FORMAT = "obliviate.s3t-state/1"


def load_version(path: Path, sha256: str, split: Split,
                 store: CheckpointStore | None = None) -> S3T:
    """The S3T a version file holds, over the deployment's training rows ``split``; a file
    that is missing, fails the ledger's sha256 or is not an S3T state is refused by name."""
    if not path.is_file() or file_sha256(path) != sha256:
        raise ValueError(f"model version {str(path)!r} is missing or fails its sha256 "
                         f"{sha256[:16]}... (the ledger's)")
    with safe_open(str(path), "pt") as f:
        header = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
    if header.get("format") != FORMAT:
        raise ValueError(f"model version {path.name}: format {header.get('format')!r}, not "
                         f"{FORMAT!r} (an S3T deployment's)")
    return S3T.from_state(split, tensors, json.loads(header["s3t"]), store=store)


class S3TExact:
    """The live S3T model of a deployment (the interface of ``exact.LiveModel``)."""

    def __init__(self, cfg: ExactDeployment, root: Path, deleted: set[int],
                 parent: tuple[Path, str] | None) -> None:
        self.cfg, self.root = cfg, root
        data, self.subjects = rows_of.build(cfg)
        self.train: Split = data.train_split()
        self.s3t_cfg = build_config(S3TConfig, cfg.s3t)
        store = _Store(root / "checkpoints")
        if parent is None:
            if deleted:
                raise ValueError("S3T deployment: rows are deleted but there is no parent "
                                 "version to continue from")
            self.model = S3T(self.train, self.s3t_cfg, data.n_classes, seed=cfg.seed,
                             store=store)
            self.model.fit()
        else:
            self.model = load_version(parent[0], parent[1], self.train, store)
            held = {int(i) for i in self.model.split.ids[~self.model.alive]}
            if held != deleted:
                raise ValueError(f"model version {parent[0].name} has {len(held)} rows "
                                 f"deleted, the ledger {len(deleted)}: not this version's "
                                 "state")
        self._before: dict[int, dict[str, torch.Tensor]] = {}  # stacks before delete()
        self._prior: set[int] = set(deleted)  # rows deleted before delete()

    def manifest(self) -> list[tuple[int, str, str]]:
        return manifest_rows(self.train, self.subjects)

    def shard_report(self) -> dict[str, dict[str, Any]]:
        """Per shard: its live rows and their hash, the slices deleted since it was trained,
        the order and layers served and the hash of the rows each served layer saw."""
        m, out = self.model, {}
        sel = m.selection()
        for s in range(self.s3t_cfg.shards):
            ids = m.split.ids[m._rows(s, list(range(self.s3t_cfg.slices)))]
            entry: dict[str, Any] = {"rows": int(len(ids)), "rows_sha256": rows_hash(ids),
                                     "deleted_slices": sorted(m.deleted[s]),
                                     "checkpoint": m.keys.get(s)}
            if s in sel:
                entry.update(m._served_evidence(s, *sel[s]))
            out[str(s)] = entry
        return out

    def delete(self, ids: list[int]) -> dict[str, Any]:
        """Deactivate (or, for a shard with no usable layer, retrain) and return the
        evidence ``S3T.delete`` gives."""
        self._before = {s: {k: v.clone() for k, v in st.state_dict().items()}
                        for s, st in self.model.stacks.items()}
        self._prior = {int(i) for i in self.model.split.ids[~self.model.alive]}
        return delete_rows(self.model, ids, self.s3t_cfg.shards)

    def verify(self, evidence: dict[str, Any], deleted_all: set[int],
               retained: set[int]) -> dict[str, Any]:
        """Checks redone from the manifest and SISA's layout (a keyed hash of the row ids):
        the model holds exactly the retained rows; each row deleted now lies, by the layout,
        in a shard retrained now or in a slice its shard marks deleted; no served layer was
        trained on a slice deleted since its shard's training; every deactivated layer is
        zero; the untouched shards' stacks are bit for bit the parent's; the checkpoints of
        stacks that saw a deleted row are gone."""
        m, c = self.model, self.s3t_cfg
        new = sorted({int(i) for i in m.split.ids[~m.alive]} - self._prior)
        sh, sl = layout(np.asarray(new, dtype=np.int64), c.shards, c.slices, self.cfg.seed)
        retrained = set(evidence["retrained_shards"])
        sel = m.selection()
        served = {s: set(m.orders[k][:n]) for s, (k, n) in sel.items()}
        zero = all(not t[k, usable_prefix(o, m.deleted[s]):].any()
                   for s, st in m.stacks.items() for k, o in enumerate(m.orders)
                   for t in (st.A, st.B, st.b))
        untouched = evidence["untouched_shards"]
        purged = [k for v in evidence["shards"].values() for k in v["purged_checkpoints"]]
        store = m.store
        assert store is not None
        checks = {
            "model_holds_exactly_the_retained_rows":
                {int(i) for i in m.split.ids[m.alive]} == retained
                and {int(i) for i in m.split.ids[~m.alive]} == deleted_all,
            "deleted_rows_in_deactivated_slices_or_retrained_shards": all(
                int(s) in retrained or int(j) in m.deleted[int(s)]
                for s, j in zip(sh.tolist(), sl.tolist(), strict=True)),
            "no_served_layer_saw_a_deleted_slice": all(
                not served[s] & m.deleted[s] for s in served),
            "deactivated_layers_zeroed": zero,
            "untouched_shards_unchanged": all(
                s not in m.stacks or all(torch.equal(v, self._before[s][k])
                                         for k, v in m.stacks[s].state_dict().items())
                for s in untouched),
            "stale_checkpoints_removed": all(k not in store for k in purged),
            "every_shard_serves_a_layer": all(n > 0 for _, n in sel.values()),
        }
        return {"guarantee": "exact", "method": "s3t", "config": config_dict(c),
                "checks": checks, "passed": all(checks.values()),
                "retrained_shards": sorted(retrained), "untouched_shards": untouched,
                "deactivated_layers": {s: v["deactivated_layers"]
                                       for s, v in evidence["shards"].items()},
                "served": {str(s): {"order": k, "layers": n} for s, (k, n) in sel.items()},
                "absorbed_requests": m.absorbed, "shard_retrains": m.retrains,
                "purged_checkpoints": purged, "shards": self.shard_report(),
                "retained_rows_sha256": rows_hash(np.asarray(sorted(retained)))}

    def shard_of(self, ids: list[int]) -> dict[str, int]:
        return shards_of(ids, self.s3t_cfg.shards, self.s3t_cfg.slices, self.cfg.seed)

    def save_version(self) -> tuple[Path, str]:
        tensors, meta = self.model.state()
        return write_version(self.root, tensors, FORMAT,
                             {"s3t": json.dumps(meta, sort_keys=True)})
