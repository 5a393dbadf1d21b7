"""Named points where the crash tests stop a worker (``OBLIVIATE_CRASH_AT``), for real.

``OBLIVIATE_CRASH_AT=<point>[@<n>][:pause]``: at the n-th time (default 1st) the process
reaches ``<point>`` it sends itself SIGKILL (no cleanup, no ``finally``, exactly as
``kill -9``), or with ``:pause`` prints ``PAUSED <point>`` on stderr and sleeps so that the
test sends the SIGKILL itself. Unset, ``point`` is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
import sys
import time

ENV = "OBLIVIATE_CRASH_AT"
POINTS = (
    "claim.committed",          # the job is ours (lease written), nothing done yet
    "unlearning.checkpoint",    # a retrained shard's slice checkpoint was just written
    "unlearning.done",          # the shards are retrained, the ledger still says unlearning
    "verifying.committed",      # the ledger says verifying
    "saving.temp",              # the version file is written and fsynced under a temp name
    "saving.renamed",           # the version file has its final name, not yet in the ledger
    "promotion.in_txn",         # inside the promotion transaction, before COMMIT
    "promotion.committed",      # the new version is current; the worker has not moved on
    "batch.committed",          # requests coalesced into a job, the job not yet claimed
)
_counts: dict[str, int] = {}


def point(name: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    target, _, mode = spec.partition(":")
    where, _, nth = target.partition("@")
    if where != name:
        return
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] != int(nth or 1):
        return
    if mode == "pause":
        print(f"PAUSED {name}", file=sys.stderr, flush=True)
        time.sleep(600)
    os.kill(os.getpid(), signal.SIGKILL)


def run_cli(env: dict[str, str], argv: list[str]) -> None:
    """``obliviate <argv>`` with ``env`` added: the target of the crash tests' worker
    processes, forked from a server that has already imported torch (a fresh interpreter
    spends seconds importing it, and the tests start dozens of workers)."""
    os.environ.update(env)
    from obliviate.cli import main

    sys.exit(main(argv))
