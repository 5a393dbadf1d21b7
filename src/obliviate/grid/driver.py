"""``run_grid``: skip the finished cells, train the reference models the rest need (each
once), run the rest, and collect every cell's record for the leaderboards."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tqdm.auto import tqdm

from obliviate.errors import ObliviateError
from obliviate.grid.cells import Cell, Reference, finished
from obliviate.grid.local import run_inline, run_pool
from obliviate.grid.on_ray import connect, ray_module, run_on_ray
from obliviate.grid.work import Outcome, run_cell, train_reference
from obliviate.storage.records import RecordError, read_record
from obliviate.workspace import Workspace

log = logging.getLogger("obliviate")
T = TypeVar("T", Cell, Reference)


@dataclass
class GridResult:
    cells: list[Cell]
    records: dict[int, dict[str, Any]] = field(default_factory=dict)  # cell index -> record
    skipped: list[int] = field(default_factory=list)  # finished before this grid started
    ran: list[int] = field(default_factory=list)  # run now, and finished
    failed: dict[int, str] = field(default_factory=dict)  # cell index -> why

    @property
    def ok(self) -> bool:
        return not self.failed

    def groups(self) -> list[tuple[tuple[str, str], list[dict[str, Any]]]]:
        """The records of each (scenario, forget set), in the grid's order."""
        out: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for i, cell in enumerate(self.cells):
            recs = out.setdefault(cell.group, [])
            if i in self.records:
                recs.append(self.records[i])
        return list(out.items())

    def summary(self) -> str:
        return (f"grid: {len(self.cells)} cells: {len(self.skipped)} already finished, "
                f"{len(self.ran)} run now, {len(self.failed)} failed")


def cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cell_teller(metric: str, label: str, fmt: str = ".2f", *, where: tuple[str, ...] = (
        "forget",)) -> Callable[[Cell, dict[str, Any] | None, str | None], None]:
    """A benchmark's ``on_cell``: one stderr line per finished cell, ``  <where...> seed S
    METHOD: LABEL value`` (``metric``'s unlearned value) or ``FAILED <error>``."""
    def tell(cell: Cell, record: dict[str, Any] | None, error: str | None) -> None:
        s = cell.spec
        what = (f"FAILED {error}" if record is None else
                f"{label} {record['metrics'][metric]['unlearned']:{fmt}}")
        head = "".join(f"{getattr(s, w)} " for w in where)
        print(f"  {head}seed {s.seed} {s.method}: {what}", file=sys.stderr, flush=True)
    return tell


def run_grid(cells: Sequence[Cell], references: Sequence[Reference], ws: Workspace, *,
             jobs: int | None = None, ray: str | None = None, retries: int = 1,
             progress: bool = True,
             on_cell: Callable[[Cell, dict[str, Any] | None, str | None], None] | None = None,
             ) -> GridResult:
    """Run the cells not yet finished; ``jobs`` worker processes (default: one per core, at
    most one per item), or Ray tasks on the cluster at ``ray``. A worker that dies is retried
    ``retries`` times. ``on_cell(cell, record, error)`` is told of each cell run now."""
    if jobs is not None and jobs < 1:
        raise ObliviateError(f"--jobs {jobs}: must be at least 1")
    if ray is not None:
        ray_module()  # not installed: say so before anything is trained
        if jobs is not None:
            raise ObliviateError("--jobs is for the local pool; on Ray each cell takes one "
                                 "CPU of the cluster")
    if retries < 0:
        raise ObliviateError(f"--retries {retries}: must be at least 0")
    result = GridResult(list(cells))
    store = ws.store()
    for i, record in finished(cells, store).items():
        result.records[i] = record
        result.skipped.append(i)
    todo = [i for i in range(len(cells)) if i not in result.records]
    needed = {k for i in todo for k in cells[i].model_keys}
    cache = ws.cache
    refs = [r for r in references if r.key in needed and not cache.has(r.key)]
    if ray is not None and (refs or todo):
        connect(ray)

    def execute(fn: Callable[[T, Workspace], Outcome], items: Sequence[T], desc: str,
                done: Callable[[int, Outcome], None]) -> None:
        if not items:
            return
        bar = tqdm(total=len(items), desc=desc, unit="run", disable=not progress)

        def tick(i: int, outcome: Outcome) -> None:
            bar.update()
            done(i, outcome)

        try:
            if ray is not None:
                run_on_ray(fn, items, ws, retries=retries, done=tick)
            elif (jobs or min(cpus(), len(items))) == 1:
                run_inline(fn, items, ws, tick)
            else:
                run_pool(fn, items, ws, jobs=jobs or min(cpus(), len(items)),
                         retries=retries, done=tick)
        finally:
            bar.close()

    broken: dict[str, str] = {}  # a reference model's key -> why it could not be trained

    def ref_done(i: int, outcome: Outcome) -> None:
        if outcome.error is not None:
            broken[refs[i].key] = f"{outcome.label}: {outcome.error}"
            log.warning("reference model %s failed: %s", outcome.label, outcome.error)

    execute(train_reference, refs, "reference models", ref_done)
    runnable = []
    for i in todo:
        why = next((broken[k] for k in cells[i].model_keys if k in broken), None)
        if why is None:
            runnable.append(i)
        else:
            result.failed[i] = f"its reference model failed ({why})"
            _tell(on_cell, cells[i], None, result.failed[i])

    def cell_done(j: int, outcome: Outcome) -> None:
        i = runnable[j]
        if outcome.path is None:
            result.failed[i] = outcome.error or "no record"
            _tell(on_cell, cells[i], None, result.failed[i])
            return
        try:
            result.records[i] = read_record(outcome.path)
        except RecordError as e:  # a Ray node wrote it where this machine cannot read
            result.failed[i] = (f"its record is not readable here ({e.reason}): on a cluster, "
                                "--home must be on a file system every node sees")
            _tell(on_cell, cells[i], None, result.failed[i])
            return
        result.ran.append(i)
        _tell(on_cell, cells[i], result.records[i], None)

    execute(run_cell, [cells[i] for i in runnable], "cells", cell_done)
    return result


def _tell(on_cell: Callable[[Cell, dict[str, Any] | None, str | None], None] | None,
          cell: Cell, record: dict[str, Any] | None, error: str | None) -> None:
    if error is not None:
        log.warning("cell %s failed: %s", cell.label, error)
    if on_cell is not None:
        on_cell(cell, record, error)
