"""The ``exact`` policy: a SISA-trained deployment (``guaranteed/sisa.py``) honours a batch
of deletions by retraining only the shards that held the deleted rows, and proves it. An
S3T-trained one (``method="s3t"``, ``service/exact_s3t.py``) deactivates layers instead and
retrains a shard only when it has no usable layer left; ``live_model`` picks the class.

The deployment's config names everything that determines the model (scenario, seed, shard
model, epochs, SISA config), so any worker rebuilds the live ensemble from the content-
addressed checkpoints under the deployment's root: ``SISA(retained rows).fit()`` loads each
shard's last checkpoint whose rows are unchanged, and retrains only what a crashed attempt
left purged. Deleting is then ``SISA.delete``, which is exact: every shard model is a
function of its own retained rows only (sisa.py's docstring).

Row subjects: the bundled scenarios have no people in them, so row ``r`` belongs to subject
``user-<r mod subjects>`` (``subjects`` is a config field; about six digits rows each by
default). A user's own data would bring its subject column.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from safetensors.torch import save as safetensors_bytes
from torch import nn

from obliviate.config import build_config, config_dict
from obliviate.guaranteed.checkpoints import CheckpointStore
from obliviate.guaranteed.s3t import S3TConfig
from obliviate.guaranteed.sisa import SISA, SISAConfig, layout, rows_hash
from obliviate.service import data as rows_of
from obliviate.service.crash import point
from obliviate.service.data import file_sha256
from obliviate.storage.atomic import temp_file
from obliviate.tasks.classification.models import build_model
from obliviate.types import Split


@dataclass(frozen=True)
class ExactDeployment:
    scenario: str = "digits"
    seed: int = 0
    model: str = "mlp"  # the shard model; mlp keeps a digits retrain to a fraction of a second
    method: str = "sisa"  # the guaranteed learner: sisa or s3t (METHODS)
    epochs: int | None = None  # the scenario recipe's epochs; None: the scenario's own
    subjects: int = 200  # row r belongs to subject user-<r mod subjects> (module docstring)
    sisa: dict[str, Any] = field(default_factory=dict)  # SISAConfig overrides
    s3t: dict[str, Any] = field(default_factory=dict)  # S3TConfig overrides (method s3t)
    # The user's own CSV instead of the scenario (service/data.py), pinned by its sha256.
    data: str | None = None
    label: str | None = None
    subject_column: str | None = None  # None: subjects as for a bundled scenario
    data_sha256: str | None = None

    def __post_init__(self) -> None:
        rows_of.check(self, "exact")
        if self.method not in METHODS:
            raise ValueError(f"exact policy: method {self.method!r}; valid: "
                             f"{', '.join(METHODS)}")
        if self.sisa and self.s3t:
            raise ValueError("exact policy: give sisa or s3t overrides, not both")
        build_config(SISAConfig, self.sisa)  # unknown keys and bad values fail here
        build_config(S3TConfig, self.s3t)

    @classmethod
    def from_json(cls, text: str) -> ExactDeployment:
        return cls(**json.loads(text))

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


class _Store(CheckpointStore):
    """The SISA checkpoint store with a crash point after each checkpoint written."""

    def save(self, key: str, model: nn.Module) -> None:
        super().save(key, model)
        point("unlearning.checkpoint")


class ExactModel:
    """The live SISA ensemble of a deployment over its retained rows."""

    def __init__(self, cfg: ExactDeployment, root: Path, deleted: set[int]) -> None:
        self.cfg, self.root = cfg, root
        data, self.subjects = rows_of.build(cfg)
        self.train: Split = data.train_split()
        self.sisa_cfg = build_config(SISAConfig, cfg.sisa)
        keep = np.array([int(i) not in deleted for i in self.train.ids], dtype=bool)
        d = data

        def factory(seed: int) -> nn.Module:
            return build_model(d.model, d.pool.input_shape, d.n_classes, seed)

        self.sisa = SISA(self.train.subset(np.nonzero(keep)[0]), self.sisa_cfg, d.recipe,
                         d.task, factory, f"{cfg.scenario}/{d.model}",
                         _Store(root / "checkpoints"), seed=cfg.seed)
        self.sisa.fit()

    def manifest(self) -> list[tuple[int, str, str]]:
        return manifest_rows(self.train, self.subjects)

    def shard_report(self) -> dict[str, dict[str, Any]]:
        return {str(s): {"rows": int(len(self.sisa.shard_rows(s))),
                         "rows_sha256": rows_hash(self.sisa.shard_rows(s)),
                         "checkpoint": (self.sisa.chains.get(s) or [""])[-1] or None}
                for s in range(self.sisa_cfg.shards)}

    def delete(self, ids: list[int]) -> dict[str, Any]:
        """Retrain the shards of ``ids`` (rows still alive) and return the evidence."""
        chains_before = {s: list(c) for s, c in self.sisa.chains.items()}
        evidence = delete_rows(self.sisa, ids, self.sisa_cfg.shards)
        evidence["chains_before"] = {str(s): c for s, c in chains_before.items()}
        return evidence

    def verify(self, evidence: dict[str, Any], deleted_all: set[int],
               retained: set[int]) -> dict[str, Any]:
        """Checks anyone can redo from the manifest: no shard holds a deleted row, the shards
        together hold exactly the retained rows, the checkpoints that saw a deleted row are
        gone, and the shards not retrained kept their checkpoints."""
        rows = {s: set(self.sisa.shard_rows(s).tolist()) for s in range(self.sisa_cfg.shards)}
        held = set().union(*rows.values())
        purged = [k for v in evidence["shards"].values() for k in v.get("purged_checkpoints",
                                                                           [])]
        store = self.sisa.store
        untouched = evidence["untouched_shards"]
        checks = {
            "deleted_rows_absent_from_every_shard": not (held & deleted_all),
            "shards_hold_exactly_the_retained_rows": held == retained,
            "stale_checkpoints_removed": all(k not in store for k in purged),
            "untouched_shards_unchanged": all(
                self.sisa.chains.get(s, []) == evidence["chains_before"].get(str(s), [])
                for s in untouched),
            "live_checkpoints_present": all(k in store for c in self.sisa.chains.values()
                                            for k in c),
        }
        return {"guarantee": "exact", "method": "sisa", "config": config_dict(self.sisa_cfg),
                "checks": checks, "passed": all(checks.values()),
                "retrained_shards": evidence["retrained_shards"],
                "untouched_shards": untouched,
                "slices_trained": evidence.get("slices_trained", 0),
                "purged_checkpoints": purged, "shards": self.shard_report(),
                "retained_rows_sha256": rows_hash(np.asarray(sorted(retained)))}

    def shard_of(self, ids: list[int]) -> dict[str, int]:
        return shards_of(ids, self.sisa_cfg.shards, self.sisa_cfg.slices, self.cfg.seed)

    def save_version(self) -> tuple[Path, str]:
        state = {k: v.detach().cpu().contiguous()
                 for k, v in self.sisa.ensemble().state_dict().items()}
        return write_version(self.root, state, "obliviate.sisa-ensemble/1")


# What the exact policy trains, with the home of its config (``ExactDeployment``'s field).
METHODS = {"sisa": "SISAConfig (shard retraining)", "s3t": "S3TConfig (layer deactivation)"}


class LiveModel(Protocol):
    """What the worker and ``deploy`` ask of an exact deployment's live model (ExactModel,
    exact_s3t.S3TExact)."""

    def manifest(self) -> list[tuple[int, str, str]]: ...

    def shard_report(self) -> dict[str, dict[str, Any]]: ...

    def delete(self, ids: list[int]) -> dict[str, Any]: ...

    def verify(self, evidence: dict[str, Any], deleted_all: set[int],
               retained: set[int]) -> dict[str, Any]: ...

    def shard_of(self, ids: list[int]) -> dict[str, int]: ...

    def save_version(self) -> tuple[Path, str]: ...


def live_model(cfg: ExactDeployment, root: Path, deleted: set[int],
               parent: tuple[Path, str] | None) -> LiveModel:
    """The deployment's live model over its retained rows: SISA rebuilt from its checkpoints,
    or S3T restored from the parent version's file (``parent``: its path and sha256; None at
    deploy time, when it is trained)."""
    if cfg.method == "s3t":
        from obliviate.service.exact_s3t import S3TExact

        return S3TExact(cfg, root, deleted, parent)
    return ExactModel(cfg, root, deleted)


def delete_rows(learner: Any, ids: list[int], shards: int) -> dict[str, Any]:
    """``learner.delete`` of ``ids`` (SISA's or S3T's) and its evidence; a batch whose rows
    were all deleted before changes nothing. Then the crash point ``unlearning.done``."""
    if ids:
        evidence: dict[str, Any] = learner.delete(np.asarray(sorted(ids),
                                                             dtype=np.int64)).evidence
    else:
        evidence = {"retrained_shards": [], "shards": {}, "untouched_shards": list(range(shards))}
    point("unlearning.done")
    return evidence


def shards_of(ids: list[int], shards: int, slices: int, seed: int) -> dict[str, int]:
    """Row id -> the shard SISA's layout (shared by S3T) puts it in."""
    shard, _ = layout(np.asarray(ids, dtype=np.int64), shards, slices, seed)
    return {str(i): int(s) for i, s in zip(ids, shard.tolist(), strict=True)}


def manifest_rows(train: Split, subjects: list[str]) -> list[tuple[int, str, str]]:
    """(row id, sha256 of its input bytes and label, subject) of every training row;
    ``subjects`` is ``data.build``'s, one per row of ``train``."""
    out = []
    x, y = train.inputs.numpy(), train.targets.numpy()
    for k, i in enumerate(train.ids.tolist()):
        h = hashlib.sha256(np.ascontiguousarray(x[k]).tobytes())
        h.update(int(y[k]).to_bytes(8, "little", signed=True))
        out.append((int(i), h.hexdigest(), subjects[k]))
    return out


def write_version(root: Path, state: dict[str, torch.Tensor], fmt: str,
                  metadata: dict[str, str] | None = None) -> tuple[Path, str]:
    """Weights as ``<root>/versions/<sha256>.safetensors`` (``metadata`` beside ``format`` in
    the safetensors header): written to a temporary name, fsynced, renamed, directory
    fsynced. Content-addressed, so a re-run after a crash writes the same name and a reader
    only ever sees a whole file."""
    data = safetensors_bytes(state, metadata={**(metadata or {}), "format": fmt})
    digest = hashlib.sha256(data).hexdigest()
    out = root / "versions"
    out.mkdir(parents=True, exist_ok=True)
    final = out / f"{digest}.safetensors"
    if final.is_file() and file_sha256(final) == digest:
        return final, digest
    for stale in out.glob(".*.tmp"):  # a killed writer's; only the lease holder writes
        stale.unlink(missing_ok=True)
    fd, tmp = temp_file(final)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        point("saving.temp")
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dfd = os.open(out, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    point("saving.renamed")
    return final, digest




def set_threads() -> None:
    torch.set_num_threads(int(os.environ.get("OBLIVIATE_THREADS", "1")))
