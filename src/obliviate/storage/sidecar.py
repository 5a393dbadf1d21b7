"""The run's feature sidecar: per-sample arrays the report and the dashboard draw from.

A run writes ``<runs_dir>/<run_id>.features.npz`` (``np.savez_compressed``, atomically) before
its record, and the record names it with its SHA-256: ``record["sidecar"] = {"file": ...,
"sha256": ...}``. Readers never recompute features from models; they read this file.

numpy only: the dashboard imports this module and must not pull in torch.

Keys (``r`` a role, ``s`` a split):

classifier runs
    ``ids/{s}``, ``label/{s}``           int64 sample ids (pool rows) and true labels; each
                                         split capped at ``MAX_PER_SPLIT`` samples
    ``{r}/{s}/pred``                     int64 argmax prediction
    ``{r}/{s}/confidence``               float32 softmax probability of the true label
    ``{r}/{s}/features``                 float16 penultimate-layer features (``body``)
    ``layers``                           unicode names of the Linear/Conv2d layers, forward order
    ``probe/ids``                        int64 fixed probe set (same for every run of a
                                         scenario and seed)
    ``{r}/layer/{k}``                    float32 (n_probe, d_k) flattened output of ``layers[k]``
language-model runs
    ``{r}/forget/truth_ratio``, ``{r}/forget/prob``   float32 per forget question
    ``{r}/mia/forget``, ``{r}/mia/holdout``           float32 Min-K% (k = 40%) per biography
  and, in runs recorded since the dashboard's per-question views (optional: older runs lack
  them, and the views say so)
    ``forget/question``, ``forget/reference``        unicode per forget question: the question
                                                      asked and its true answer
    ``forget/person``, ``forget/person_name``        unicode: whose fact it is (id, name)
    ``{r}/forget/answer``, ``{r}/forget/exact``      unicode greedy answer; bool exact match
    ``layers``                                       unicode: "embeddings", "block 1", ...
    ``probe/ids``                                    int64 positions, among the forget
                                                      questions, of the probe questions
    ``{r}/layer/{k}``                                float32 (n_probe, width): hidden state
                                                      after ``layers[k]``, mean over the
                                                      tokens of question + true answer
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from obliviate.errors import ObliviateError
from obliviate.storage.atomic import temp_file
from obliviate.storage.records import record_kind

ROLES = ("original", "unlearned", "oracle")
SPLITS = ("forget", "retain", "test")
SUFFIX = ".features.npz"
MAX_PER_SPLIT = 500
MAX_PROBE = 200
LAYERS = "layers"
PROBE_IDS = "probe/ids"
MIN_K = 0.4  # MUSE's PrivLeak uses Min-K% at k = 40%


def file_name(run_id: str) -> str:
    return f"{run_id}{SUFFIX}"


def ids_key(split: str) -> str:
    return f"ids/{split}"


def label_key(split: str) -> str:
    return f"label/{split}"


def pred_key(role: str, split: str) -> str:
    return f"{role}/{split}/pred"


def confidence_key(role: str, split: str) -> str:
    return f"{role}/{split}/confidence"


def features_key(role: str, split: str) -> str:
    return f"{role}/{split}/features"


def layer_key(role: str, k: int) -> str:
    return f"{role}/layer/{k}"


def truth_ratio_key(role: str) -> str:
    return f"{role}/forget/truth_ratio"


def prob_key(role: str) -> str:
    return f"{role}/forget/prob"


QUESTION = "forget/question"
REFERENCE = "forget/reference"
PERSON = "forget/person"
PERSON_NAME = "forget/person_name"


def answer_key(role: str) -> str:
    return f"{role}/forget/answer"


def exact_key(role: str) -> str:
    return f"{role}/forget/exact"


def mia_key(role: str, which: str) -> str:
    """Min-K% scores of the forget (``which="forget"``) or holdout biographies."""
    if which not in ("forget", "holdout"):
        raise ValueError(f"mia_key: which is 'forget' or 'holdout', got {which!r}")
    return f"{role}/mia/{which}"


def required_keys(kind: str) -> list[str]:
    """The arrays every sidecar of a run of this kind holds (layers and probes optional)."""
    if kind == "lm":
        return [k for r in ROLES for k in (truth_ratio_key(r), prob_key(r),
                                           mia_key(r, "forget"), mia_key(r, "holdout"))]
    return [*(ids_key(s) for s in SPLITS), *(label_key(s) for s in SPLITS),
            *(f(r, s) for r in ROLES for s in SPLITS
              for f in (pred_key, confidence_key, features_key))]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_sidecar(path: str | Path, arrays: Mapping[str, np.ndarray]) -> dict[str, str]:
    """Write ``arrays`` compressed to ``path`` atomically; return the record's ``sidecar`` entry.

    Object arrays are refused: readers load with ``allow_pickle=False``.
    """
    p = Path(path)
    for key, a in arrays.items():
        if not isinstance(a, np.ndarray) or a.dtype.kind == "O":
            raise ValueError(f"sidecar array {key!r} must be a numeric or unicode numpy array, "
                             f"got {type(a).__name__} {getattr(a, 'dtype', '')}")
    fd, tmp = temp_file(p)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **dict(arrays))  # type: ignore[arg-type]
            f.flush()
            os.fsync(f.fileno())
        digest = sha256_file(Path(tmp))
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"file": p.name, "sha256": digest}


def sidecar_path(record: Mapping[str, Any], runs_dir: str | Path) -> Path:
    """Where ``record``'s sidecar lives (it names a file in the record's directory)."""
    entry = record.get("sidecar")
    run_id = record.get("run_id", "?")
    if not isinstance(entry, Mapping) or not isinstance(entry.get("file"), str):
        raise ObliviateError(f"run {run_id} has no feature sidecar (its record names none; "
                             "runs recorded before sidecars existed have none)")
    name = entry["file"]
    if Path(name).name != name:  # a record names a file beside it, never a path elsewhere
        raise ObliviateError(f"run {run_id}: sidecar name {name!r} is not a plain file name")
    return Path(runs_dir) / name


def read_sidecar(record: str | Path | Mapping[str, Any],
                 runs_dir: str | Path | None = None) -> dict[str, np.ndarray]:
    """The sidecar arrays of a record (a dict, or the path of its JSON), checked by SHA-256.

    ``runs_dir`` is the record's directory; it defaults to the JSON file's directory when a
    path is given. Raises ``ObliviateError`` naming the file when it is missing or corrupt.
    """
    if isinstance(record, (str, Path)):
        from obliviate.storage.records import read_record  # records is numpy-free too

        runs_dir = Path(record).parent if runs_dir is None else runs_dir
        record = read_record(record)
    if runs_dir is None:
        raise ObliviateError("read_sidecar: a record given as a dict needs runs_dir")
    path = sidecar_path(record, runs_dir)
    if not path.is_file():
        raise ObliviateError(f"feature sidecar {str(path)!r} of run {record.get('run_id')} "
                             "is missing")
    want = record["sidecar"].get("sha256")
    got = sha256_file(path)
    if got != want:
        raise ObliviateError(f"feature sidecar {str(path)!r} is corrupt: its SHA-256 is "
                             f"{got[:12]}..., the record says {str(want)[:12]}...")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise ObliviateError(f"cannot read feature sidecar {str(path)!r}: {e}") from None
    if "scenario" not in record:  # not a run record: nothing to check the arrays against
        return arrays
    kind = record_kind(dict(record))
    missing = [k for k in required_keys(kind) if k not in arrays]
    if missing:
        raise ObliviateError(f"feature sidecar {str(path)!r} lacks {len(missing)} of the "
                             f"arrays a {kind} run writes (first: {missing[0]!r})")
    return arrays
