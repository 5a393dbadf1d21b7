"""The ledger on a real PostgreSQL server (``OBLIVIATE_TEST_PG_URL``, which scripts/test.sh
sets after starting a private server): two ``obliviate worker`` processes share it, claim
with ``SELECT ... FOR UPDATE SKIP LOCKED``, and between them honour every request exactly
once; the audit chain, appended to by both, verifies."""

from __future__ import annotations

import multiprocessing
import os
import secrets
from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, select, text
from sqlalchemy.orm import Session

from obliviate.service.api import create_app
from obliviate.service.crash import run_cli
from obliviate.service.ledger import AuditEntry, open_ledger
from service_helpers import check_ledger, tiny_deployment

PG_URL = os.environ.get("OBLIVIATE_TEST_PG_URL")
pytestmark = pytest.mark.skipif(
    not PG_URL, reason="OBLIVIATE_TEST_PG_URL is not set (scripts/test.sh starts a private "
                       "PostgreSQL server and sets it; see scripts/pg_test_server.sh)")


@pytest.fixture
def pg_url() -> str:
    """A fresh database on the test server, dropped afterwards."""
    assert PG_URL
    name = f"obl_{secrets.token_hex(4)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.mark.slow
def test_two_workers_share_postgresql(pg_url: str, tmp_path: Path) -> None:
    engine = open_ledger(pg_url)
    deps = [tiny_deployment(engine, tmp_path / "art") for _ in range(4)]
    acknowledged = set()
    with TestClient(create_app(engine)) as client:
        for d in deps:
            for k in range(3):
                r = client.post(f"/v1/deployments/{d.deployment_id}/deletions",
                                json={"subject": f"user-{k}", "idempotency_key": f"pg-{k}"},
                                headers={"Authorization": f"Bearer {d.token}"})
                assert r.status_code == 202, r.text
                acknowledged.add(r.json()["request_id"])
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["torch", "obliviate.cli", "obliviate.service.worker",
                                "obliviate.service.exact"])
    argv = ["--quiet", "worker", "--db", pg_url, "--poll", "0.05", "--until-idle"]
    workers = [ctx.Process(target=run_cli, args=({}, argv)) for _ in range(2)]  # type: ignore[attr-defined]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    stats = check_ledger(engine, acknowledged)
    with Session(engine) as s:
        claims = Counter(s.execute(select(AuditEntry.object_id).where(
            AuditEntry.event == "job.claimed")).scalars())
        by = Counter(s.execute(select(AuditEntry.actor).where(
            AuditEntry.event == "version.promoted", AuditEntry.actor != "deploy")).scalars())
    assert all(n == 1 for n in claims.values()), f"a job was claimed twice: {claims}"
    assert len(claims) == len(deps)  # one job per deployment, none left behind
    print(f"\npostgresql: jobs promoted per worker {dict(by)}; ledger {stats}")
    assert len(by) == 2, f"one worker did every job: {dict(by)}"
    engine.dispose()
