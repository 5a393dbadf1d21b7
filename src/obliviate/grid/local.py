"""The local executor: each item in a worker process of its own, ``jobs`` at a time.

A process per item (not a pool of long-lived workers) so that a worker that dies is known to
be that item's: it is retried up to ``retries`` times, then reported, and the other items go
on. Workers come from a fork server that imported obliviate once, so a new worker costs
milliseconds, not the seconds of importing torch; and no worker is forked from the driver's
threads.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import TypeVar

from obliviate.grid.cells import Cell, Reference
from obliviate.grid.work import Outcome, in_worker
from obliviate.workspace import Workspace

T = TypeVar("T", Cell, Reference)


def run_inline(fn: Callable[[T, Workspace], Outcome], items: Sequence[T], ws: Workspace,
               done: Callable[[int, Outcome], None]) -> None:
    """``--jobs 1``: every item in this process, one after the other (times are measured
    exactly as ``obliviate run`` measures them, and a debugger sees every run)."""
    for i, item in enumerate(items):
        done(i, fn(item, ws))


def run_pool(fn: Callable[[T, Workspace], Outcome], items: Sequence[T], ws: Workspace, *,
             jobs: int, retries: int, done: Callable[[int, Outcome], None]) -> None:
    """Run ``fn(item, ws)`` for every item, ``jobs`` worker processes at a time, calling
    ``done(index, outcome)`` as each finishes (in the order they finish)."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["obliviate.grid.work"])
    queue = deque(range(len(items)))
    died = [0] * len(items)
    running: dict[int, tuple[int, mp.process.BaseProcess, Connection]] = {}
    try:
        while queue or running:
            while queue and len(running) < jobs:
                i = queue.popleft()
                receive, send = ctx.Pipe(duplex=False)
                child = ctx.Process(target=_child, args=(send, fn, items[i], ws),
                                    daemon=True, name=f"obliviate-grid-{i}")
                child.start()
                send.close()  # the child holds the only sending end: EOF once it is gone
                running[child.sentinel] = (i, child, receive)
            for sentinel in wait(list(running)):
                assert isinstance(sentinel, int)
                i, proc, receive = running.pop(sentinel)
                # Outcomes are small (work.ERROR_CHARS): the child's send never blocks on a
                # full pipe, so waiting for its exit before reading cannot deadlock.
                try:  # a child that died sent nothing: EOF
                    outcome = receive.recv() if receive.poll() else None
                except EOFError:
                    outcome = None
                receive.close()
                proc.join()
                if outcome is None:
                    died[i] += 1
                    if died[i] <= retries:
                        queue.append(i)
                        continue
                    outcome = Outcome(items[i].label, error=f"its worker process died "
                                      f"({_exit_text(proc.exitcode)}), {died[i]} time(s)")
                done(i, outcome)
    finally:  # interrupted: leave no worker running
        for _, proc, _ in running.values():
            proc.terminate()
            proc.join()


def _child(send: Connection, fn: Callable[[T, Workspace], Outcome], item: T,
           ws: Workspace) -> None:
    send.send(in_worker(fn, item, ws))
    send.close()


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"
