"""Shared by the service tests: a tiny deployment (digits MLP, SISA 3 shards x 2 slices,
3 epochs: a fraction of a second to train) and the invariants every test checks."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from obliviate.service import audit
from obliviate.service.deploy import Registered, deploy
from obliviate.service.exact import file_sha256
from obliviate.service.ledger import DeletionRequest, Deployment, ManifestRow, ModelVersion

TRAIN = "sisa:shards=3,slices=2"


def tiny_deployment(engine: Engine, root: Path, tenant: str | None = None) -> Registered:
    return deploy(engine, root=root, scenario="digits", train=TRAIN, policy="exact",
                  epochs=3, tenant=tenant)


def tiny_approx_deployment(engine: Engine, root: Path, budget: int = 3) -> Registered:
    """The approximate policy on digits: one MLP (3 epochs), ft for 2 epochs, thresholds that
    every attempt passes (crash and load tests test the machinery, not the gate), and a
    retrain job after every ``budget`` requests."""
    return deploy(engine, root=root, scenario="digits", train=None, policy="approximate",
                  epochs=3, method="ft", method_set=["epochs=2"], budget=budget,
                  thresholds="mia_auc_max=1,loss_ks_p_min=0,forget_acc_gap_max=1")


def check_ledger(engine: Engine, acknowledged: set[str]) -> dict[str, int]:
    """Every acknowledged request is deployed in exactly one version, that version's file
    exists whole (its sha256 matches), the rows it names are marked deleted in that version
    or earlier and are absent from the version's shards, and the audit chain verifies."""
    with Session(engine) as s:
        reqs = {q.id: q for q in s.execute(select(DeletionRequest)).scalars()}
        versions = s.execute(select(ModelVersion)).scalars().all()
        deps = {d.id: d for d in s.execute(select(Deployment)).scalars()}
        deleted = {(m.deployment_id, m.row_id): m.deleted_in
                   for m in s.execute(select(ManifestRow)).scalars() if m.deleted_in}
    missing = acknowledged - set(reqs)
    assert not missing, f"acknowledged requests lost: {sorted(missing)[:5]}"
    honoured = Counter(q for v in versions for q in json.loads(v.requests))
    twice = [q for q, n in honoured.items() if n > 1]
    assert not twice, f"requests honoured in more than one version: {twice[:5]}"
    for q in acknowledged:
        r = reqs[q]
        assert r.state == "deployed", f"{q} is {r.state} ({r.error})"
        assert honoured[q] == 1, f"{q} is in no version"
    for v in versions:
        if v.pruned is not None:
            continue
        assert Path(v.path).is_file(), f"version {v.number}: {v.path} missing"
        assert file_sha256(Path(v.path)) == v.sha256, f"version {v.number}: half-written"
        report = json.loads(v.verification)
        if v.number > 1:
            assert report["passed"], report["checks"]
            for row in json.loads(v.rows_removed):
                assert deleted[(v.deployment_id, row)] == v.number
        # A version's parent is the one before it, or an earlier one after a rollback.
        assert (v.parent is None) if v.number == 1 else 1 <= (v.parent or 0) < v.number
    for d in deps.values():
        assert d.current_version == max(v.number for v in versions
                                        if v.deployment_id == d.id)
    chain = audit.verify(engine)
    assert chain.ok, chain.reason
    return {"requests": len(reqs), "versions": len(versions), "audit": chain.entries}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, port: int, *extra: str) -> subprocess.Popen[bytes]:
    """``obliviate serve`` as its own process, returned once /healthz answers."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    server = subprocess.Popen([sys.executable, "-c", "from obliviate.cli import run_main; "
                               "run_main()", "serve", "--db", url, "--port", str(port), *extra],
                              env=env, stderr=subprocess.PIPE)
    deadline = time.time() + 30
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    return server
            finally:
                c.close()
        except OSError:
            pass
        assert server.poll() is None, server.stderr.read().decode()  # type: ignore[union-attr]
        assert time.time() < deadline, "server did not start"
        time.sleep(0.1)
