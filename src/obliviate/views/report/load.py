"""Which runs a report covers: record files, directories of records, or run ids.

Reads records (``obliviate.storage.records``) and their feature sidecars
(``obliviate.storage.sidecar``), nothing else: no model, no method, no torch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from obliviate.errors import ObliviateError
from obliviate.storage.records import RecordError, read_record, record_kind
from obliviate.storage.sidecar import read_sidecar


@dataclass
class Run:
    """One record, where it was read from, and its sidecar arrays once asked for."""

    record: dict[str, Any]
    path: Path
    _arrays: dict[str, np.ndarray] | None = field(default=None, repr=False)

    @property
    def run_id(self) -> str:
        return str(self.record["run_id"])

    @property
    def kind(self) -> str:
        return record_kind(self.record)

    @property
    def method(self) -> str:
        return str(self.record["method"]["name"])

    @property
    def group(self) -> tuple[str, str, str, str]:
        """Runs that share a leaderboard: same kind, scenario, forget set and record schema
        (an ``obliviate.run/1`` record measured PrivLeak and ROUGE differently)."""
        sc = self.record["scenario"]
        return self.kind, str(sc["name"]), str(sc["forget"]), str(self.record["schema"])

    @property
    def has_sidecar(self) -> bool:
        """Whether the run has a readable, complete sidecar (else ``sidecar_problem`` says
        why): one bad sidecar costs its run's plots, not the whole report."""
        try:
            self.arrays()
        except ObliviateError as e:
            self.sidecar_problem = str(e)
            return False
        return True

    sidecar_problem = "its record names no feature sidecar (recorded before sidecars existed)"

    def arrays(self) -> dict[str, np.ndarray]:
        """The sidecar (checked by its SHA-256); a missing or corrupt one is an error."""
        if self._arrays is None:
            self._arrays = read_sidecar(self.record, self.path.parent)
        return self._arrays


log = logging.getLogger("obliviate")
StorePaths = Callable[[], dict[str, str]]


def load_runs(items: Sequence[str], runs_dir: Path, store_paths: StorePaths | None = None,
              ) -> list[Run]:
    """Records named by ``items``: JSON paths, directories of them, or run ids.

    A run id is looked up as ``<runs_dir>/<id>.json``, then in ``store_paths()`` (run id to
    record path, read from the store only if needed). The same run named twice is reported
    once.
    """
    runs: dict[str, Run] = {}
    skipped = 0
    for item in items:
        in_dir = _kind(Path(item)) == "dir"
        for path in _paths(item, runs_dir, store_paths or dict):
            try:
                record = read_record(path)
                _check(record, path)
            except RecordError as e:
                if not in_dir:  # a file the user named must be a record
                    raise
                # A stray JSON among the records (notes, a config) costs itself only.
                log.warning("skipping %s: %s", path, e.reason)
                skipped += 1
                continue
            runs.setdefault(str(record["run_id"]), Run(record, path))
    if not runs:
        why = f" ({skipped} JSON file(s) skipped: not run records)" if skipped else ""
        raise ObliviateError(f"no runs to report: {', '.join(map(repr, items))} hold no "
                             f"run records{why}")
    return sorted(runs.values(), key=lambda r: (r.group, r.method, r.record["created"]))


def _kind(p: Path) -> str:
    """"dir", "file" or "" (nothing there); an OS error (a name too long, ...) says so."""
    try:
        return "dir" if p.is_dir() else "file" if p.is_file() else ""
    except OSError as e:
        raise ObliviateError(f"cannot read {str(p)!r}: {e.strerror or e}") from None


def _paths(item: str, runs_dir: Path, store_paths: StorePaths) -> list[Path]:
    p = Path(item)
    kind = _kind(p)
    if kind == "dir":
        found = sorted(q for q in p.glob("*.json") if q.is_file())
        if not found:
            raise ObliviateError(f"directory {item!r} holds no run records (*.json)")
        return found
    if kind == "file":
        return [p]
    if p.suffix == ".json" or "/" in item or "\\" in item:
        raise ObliviateError(f"no such record file or directory: {item!r}")
    by_id = runs_dir / f"{item}.json"
    if _kind(by_id) == "file":
        return [by_id]
    known = store_paths()
    if item in known:
        return [Path(known[item])]
    raise ObliviateError(f"unknown run {item!r}: not a file, a directory, or a run id in "
                         f"{str(runs_dir)!r} or the store")


_EFFICIENCY = ("unlearn_seconds", "retrain_seconds", "ratio", "forward", "backward",
               "retrain_forward", "retrain_backward")
_METRICS = {"classification": ("UA", "RA", "TA", "MIA-Eff", "Avg.Gap"),
            "lm": ("Forget quality", "Model utility")}


def _check(record: dict[str, Any], path: Path) -> None:
    """The fields the report reads, so a malformed record fails here with its name."""
    def lacks(what: str) -> RecordError:
        return RecordError(f"run record {str(path)!r} lacks {what}", f"lacks {what}")

    sc, eff = record["scenario"], record["efficiency"]
    for k in ("name", "forget", "seed"):
        if not isinstance(sc, dict) or k not in sc:
            raise lacks(f"scenario.{k}")
    if not isinstance(record["method"], dict) or "name" not in record["method"]:
        raise lacks("method.name")
    for k in _EFFICIENCY:
        # a ratio is withheld (None) when retraining was timed in another environment
        if not isinstance(eff, dict) or not (isinstance(eff.get(k), (int, float))
                                             or k == "ratio" and k in eff and eff[k] is None):
            raise lacks(f"a number at efficiency.{k}")
    for m in _METRICS.get(record_kind(record), ()):
        if m not in record["metrics"]:
            raise lacks(f"the metric {m!r}")
