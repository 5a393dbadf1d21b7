"""The Ray executor: each item a Ray task of one CPU, retried by Ray when its worker dies.

``ray`` is an optional extra (``pip install 'obliviate[ray]'``), imported only here and only
when ``--ray`` is given. On a cluster of several machines, every node needs obliviate
installed and ``--home`` on a file system they all see (the cache and the records are
written there by the workers), with ``--store`` a database server rather than SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from obliviate.errors import ObliviateError
from obliviate.grid.cells import Cell, Reference
from obliviate.grid.work import Outcome, in_worker
from obliviate.workspace import Workspace

T = TypeVar("T", Cell, Reference)


def ray_module() -> Any:
    try:
        import ray
    except ImportError:
        raise ObliviateError("--ray needs the ray package: pip install 'obliviate[ray]'"
                             ) from None
    return ray


def connect(address: str) -> None:
    """Join the cluster at ``address`` ("auto", "ray://host:10001", ...) or start a local
    instance ("local"), unless this process is connected already (a test's ``ray.init``)."""
    ray = ray_module()
    if ray.is_initialized():
        return
    try:
        if address == "local":
            ray.init(address="local", include_dashboard=False)
        else:
            ray.init(address=address)
    except (ConnectionError, ValueError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ObliviateError(f"--ray {address!r}: cannot connect: {first}") from None


def run_on_ray(fn: Callable[[T, Workspace], Outcome], items: Sequence[T], ws: Workspace, *,
               retries: int, done: Callable[[int, Outcome], None]) -> None:
    """Every item as a task of one CPU; ``done(index, outcome)`` as each finishes."""
    ray = ray_module()
    task = ray.remote(num_cpus=1, max_retries=retries)(in_worker)
    pending = {task.remote(fn, item, ws): i for i, item in enumerate(items)}
    try:
        _collect(ray, pending, items, retries, done)
    finally:  # interrupted: do not leave the cluster running cells nobody waits for
        for ref in pending:
            ray.cancel(ref, force=True)


def _collect(ray: Any, pending: dict[Any, int], items: Sequence[T], retries: int,
             done: Callable[[int, Outcome], None]) -> None:
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            i = pending.pop(ref)
            try:
                outcome = ray.get(ref)
            except ray.exceptions.RayError as e:  # the worker died on every attempt
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                outcome = Outcome(items[i].label, error=f"its Ray task failed after "
                                  f"{retries} retries: {type(e).__name__}: {first}")
            done(i, outcome)
