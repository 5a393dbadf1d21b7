"""What the dashboard reads: run records through the store, and their feature sidecars.

Nothing here runs a model or imports torch (DESIGN.md: the dashboard reads records only).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from obliviate.errors import ObliviateError
from obliviate.storage.records import record_kind
from obliviate.storage.sidecar import read_sidecar
from obliviate.storage.store import Store, runs
from obliviate.views.dashboard.pairs import data_key

MAKE_A_RUN = "obliviate run --scenario digits --forget class:3 --method ssd"


class DashboardError(ObliviateError):
    """A request the dashboard cannot answer; ``status`` is the HTTP status to send."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Run:
    """One indexed run: its record, and where the record file lives."""

    record: dict[str, Any]
    path: Path

    @property
    def run_id(self) -> str:
        return str(self.record["run_id"])

    @property
    def kind(self) -> str:
        return record_kind(self.record)


class RunSource:
    """Runs from a ``Store``, and their sidecars (cached: a sidecar is read once per change)."""

    def __init__(self, store: Store, cache_size: int = 8) -> None:
        self.store = store
        self._cache: OrderedDict[tuple[str, int, int], dict[str, np.ndarray]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def listing(self) -> list[dict[str, Any]]:
        """Every run, oldest first, with what the pickers show (``data``: runs with equal keys
        ran on the same data, so the B picker offers them; ``pairs.data_key``)."""
        out = []
        for row in self._rows(sa.select(runs.c.record, runs.c.path).order_by(runs.c.created)):
            run = _run(row)
            sc, rec = run.record["scenario"], run.record
            out.append({
                "run_id": run.run_id, "created": rec.get("created"), "kind": run.kind,
                "scenario": sc.get("name"), "forget": sc.get("forget"), "seed": sc.get("seed"),
                "method": rec["method"].get("name"),
                "avg_gap": rec["metrics"].get("Avg.Gap", {}).get("unlearned"),
                "sidecar": isinstance(rec.get("sidecar"), dict), "data": data_key(rec),
            })
        return out

    def get(self, run_id: str) -> Run:
        rows = self._rows(sa.select(runs.c.record, runs.c.path).where(runs.c.run_id == run_id))
        if not rows:
            raise DashboardError(f"no run {run_id!r} in the store (the runs it holds are "
                                 "listed by `obliviate runs`)", status=404)
        return _run(rows[0])

    def sidecar(self, run: Run) -> dict[str, np.ndarray]:
        """The run's sidecar arrays; ``DashboardError`` (409) when it has none or it is bad."""
        if not isinstance(run.record.get("sidecar"), dict):
            raise DashboardError(f"run {run.run_id} has no feature sidecar: it was recorded "
                                 "before runs saved features; run it again to compare its "
                                 "features", status=409)
        file = run.path.parent / str(run.record["sidecar"].get("file"))
        try:
            stat = file.stat()
            key = (str(file), stat.st_mtime_ns, stat.st_size)
        except OSError:
            key = (str(file), -1, -1)  # read_sidecar below names the missing file
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        try:
            arrays = read_sidecar(run.record, run.path.parent)
        except ObliviateError as e:
            raise DashboardError(str(e), status=409) from None
        with self._lock:
            self._cache[key] = arrays
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return arrays

    def _rows(self, query: Any) -> list[Any]:
        try:
            with self.store.engine.connect() as conn:
                return list(conn.execute(query).all())
        except SQLAlchemyError as e:
            raise DashboardError(f"cannot read the run store: {str(e).splitlines()[0]}",
                                 status=503) from None


def _run(row: Any) -> Run:
    return Run(record=dict(json.loads(row.record)), path=Path(row.path))
