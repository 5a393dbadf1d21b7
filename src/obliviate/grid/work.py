"""What a worker runs: train one reference model into the cache, or run one cell. Both
return an ``Outcome`` and never raise for a failure of their own: the grid reports it and
carries on. A worker that dies (killed, out of memory) returns nothing; the executors retry
it (``local``, ``on_ray``)."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from obliviate.errors import ObliviateError
from obliviate.grid.cells import Cell, Reference
from obliviate.methods import METHODS
from obliviate.runner import build, run, trained_model
from obliviate.scenarios import SCENARIOS
from obliviate.workspace import Workspace

T = TypeVar("T", Cell, Reference)
# An outcome crosses a pipe (local) or the object store (Ray): keep errors a few lines long.
ERROR_CHARS = 2000


@dataclass(frozen=True)
class Outcome:
    label: str
    path: str | None = None  # the record a cell wrote
    meta: dict[str, Any] | None = None  # a reference model's training meta
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def run_cell(cell: Cell, ws: Workspace) -> Outcome:
    with _registered(cell):
        try:
            _, path = run(cell.spec, ws, progress=False)
        except Exception as e:  # any failure of one cell is that cell's, not the grid's
            return Outcome(cell.label, error=describe(e))
    return Outcome(cell.label, path=str(path))


def train_reference(ref: Reference, ws: Workspace) -> Outcome:
    with _registered(ref):
        try:
            _, meta = trained_model(build(ref.spec), ref.role, ws, progress=False)
        except Exception as e:
            return Outcome(ref.label, error=describe(e))
    return Outcome(ref.label, meta={k: v for k, v in meta.items() if k != "environment"})


def in_worker(fn: Callable[[T, Workspace], Outcome], item: T, ws: Workspace) -> Outcome:
    """``fn(item, ws)`` in a worker process: one torch thread, as the pool is sized to the
    machine's cores (each worker one core)."""
    torch.set_num_threads(1)
    return fn(item, ws)


def describe(e: Exception) -> str:
    """One line for a user's error; for anything else its type, message and where it was
    raised (a bug: the place is what one needs)."""
    if isinstance(e, ObliviateError):
        return str(e)[:ERROR_CHARS]
    text = f"{type(e).__name__}: {e}"
    frames = traceback.extract_tb(e.__traceback__)
    if frames:
        text += f" (at {frames[-1].filename}:{frames[-1].lineno})"
    return text[:ERROR_CHARS]


@contextmanager
def _registered(item: Cell | Reference) -> Iterator[None]:
    """The item's scenario (and a cell's method) registered under the names its spec uses,
    for the duration of the run; what was there before is put back."""
    entries: list[tuple[dict[str, Any], str, object]] = [
        (SCENARIOS, item.spec.scenario, item.scenario_def)]
    if isinstance(item, Cell):
        entries.append((METHODS, item.spec.method, item.method_def))
    saved = [(reg, name, reg.get(name)) for reg, name, _ in entries]
    for reg, name, value in entries:
        reg[name] = value
    try:
        yield
    finally:
        for reg, name, old in saved:
            if old is None:
                reg.pop(name, None)
            else:
                reg[name] = old
