"""Ledger schema versions and the upgrade (``obliviate ledger upgrade``): a ledger of the
previous schema (0001: the DDL the service's first ``ledger.py`` emitted, kept verbatim in
``service_ledger_0001.sql``) filled with a real deployment's rows is refused by every
command with one line naming the upgrade command; the upgrade keeps every deployment,
manifest row, token, job, request, version and audit entry as it was, signs the old entries
without changing their hashes, and leaves a ledger the service keeps working on. Its schema
then matches a ledger created new, column for column."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from obliviate.cli import main
from obliviate.errors import ObliviateError
from obliviate.service import audit, signing
from obliviate.service.api import create_app
from obliviate.service.ledger import AuditEntry, AuditKey, Job, ModelVersion, open_ledger
from obliviate.service.worker import Worker, WorkerConfig
from service_helpers import check_ledger, tiny_deployment

OLD_DDL = Path(__file__).with_name("service_ledger_0001.sql")
TABLES = ("deployments", "manifest", "versions", "requests", "jobs", "tokens", "audit",
          "audit_head")


def _rows(db: Path, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as c:
        return sorted(c.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall(),
                      key=repr)


def _columns(db: Path, table: str) -> list[str]:
    with sqlite3.connect(db) as c:
        return [r[1] for r in c.execute(f"PRAGMA table_info({table})")]


@pytest.fixture
def old(tmp_path: Path) -> tuple[str, Path, Any, set[str]]:
    """A 0001 ledger: a deployment with 3 honoured requests (version 2) and one committed,
    made by today's code, its rows copied into the old schema (the old columns only; audit
    entries unsigned, as the old code wrote them)."""
    new_db, old_db = tmp_path / "new.db", tmp_path / "old.db"
    engine = open_ledger(f"sqlite:///{new_db}")
    dep = tiny_deployment(engine, tmp_path / "art")
    acked = set()
    with TestClient(create_app(engine, limit=None)) as c:
        def submit(subject: str, key: str) -> None:
            r = c.post(f"/v1/deployments/{dep.deployment_id}/deletions",
                       json={"subject": subject, "idempotency_key": key},
                       headers={"Authorization": f"Bearer {dep.token}"})
            assert r.status_code == 202, r.text
            acked.add(r.json()["request_id"])

        for k in (3, 4, 5):
            submit(f"user-{k}", f"k{k}")
        Worker(engine, WorkerConfig(poll=0.05)).run(until_idle=True)
        submit("user-6", "k6")  # committed, not yet honoured
    engine.dispose()
    with sqlite3.connect(old_db) as c:
        c.executescript(OLD_DDL.read_text())
    for table in TABLES:
        cols = _columns(old_db, table)
        rows = _rows(new_db, table, cols)
        with sqlite3.connect(old_db) as c:
            c.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                          f"({', '.join('?' * len(cols))})", rows)
    return f"sqlite:///{old_db}", old_db, dep, acked


def test_old_ledger_refused_upgraded_and_kept_whole(old: tuple[str, Path, Any, set[str]],
                                                    tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    url, db, dep, acked = old
    before = {t: _rows(db, t, _columns(db, t)) for t in TABLES}
    assert "signature" not in _columns(db, "audit") and len(before["audit"]) > 10
    upgrade = f"obliviate ledger upgrade --db {url}"
    with pytest.raises(ObliviateError, match="schema is version 0001") as e:
        open_ledger(url)
    assert upgrade in str(e.value) and "\n" not in str(e.value)
    for argv in (["worker", "--db", url, "--until-idle"], ["serve", "--db", url],
                 ["audit", "verify", "--db", url],
                 ["deploy", "--db", url, "--train", "sisa:shards=2", "--epochs", "1"]):
        assert main(["--home", str(tmp_path / "home"), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert err.endswith(upgrade) and "\n" not in err, err
    assert before == {t: _rows(db, t, _columns(db, t)) for t in TABLES}  # refusing wrote nothing
    assert main(["ledger", "version", "--db", url]) == 1
    assert "schema version 0001 (inferred from its columns)" in capsys.readouterr().out

    assert main(["ledger", "upgrade", "--db", url]) == 0
    out = capsys.readouterr().out
    n_old = len(before["audit"])
    assert f"upgraded from schema version 0001 to 0002; {n_old} audit entries signed" in out
    # Every old row is still there, unchanged, in its old columns (audit: its old entries
    # with their hashes; the chain head has moved on by the upgrade's own entry).
    old_cols = {t: [c for c in _columns(db, t) if c not in ("kind", "pruned", "signature")]
                for t in TABLES}
    for t in TABLES:
        now = _rows(db, t, old_cols[t])
        if t == "audit":
            now = [r for r in now if r[0] <= n_old]
        if t != "audit_head":
            assert now == before[t], t
    engine = open_ledger(url)
    with Session(engine) as s:
        entries = s.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
        key = s.get(AuditKey, 1)
        assert {j.kind for j in s.execute(select(Job)).scalars()} == {"deletions"}
        assert all(v.pruned is None for v in s.execute(select(ModelVersion)).scalars())
        version = s.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert version == "0002" and key is not None
    for e in entries[:n_old]:  # the old entries are now signed by the ledger's key
        assert signing.valid(key.public_key, e.hash, e.signature)
    last = entries[n_old]
    assert len(entries) == n_old + 1 and last.event == "ledger.upgraded"
    assert audit.verify(engine).ok
    assert main(["audit", "verify", "--db", url]) == 0
    capsys.readouterr()
    # The upgraded ledger works: the old token, a new request, the worker honours both open.
    with TestClient(create_app(engine, limit=None)) as c:
        r = c.post(f"/v1/deployments/{dep.deployment_id}/deletions",
                   json={"subject": "user-7", "idempotency_key": "after"},
                   headers={"Authorization": f"Bearer {dep.token}"})
        assert r.status_code == 202, r.text
        acked.add(r.json()["request_id"])
    Worker(engine, WorkerConfig(poll=0.05)).run(until_idle=True)
    check_ledger(engine, acked)
    assert main(["ledger", "upgrade", "--db", url]) == 0
    assert "already at schema version 0002" in capsys.readouterr().out


def _schema(url: str) -> dict[str, set[tuple[str, bool]]]:
    from obliviate.service.ledger import connect

    insp = inspect(connect(url))
    return {t: {(c["name"], bool(c["nullable"])) for c in insp.get_columns(t)}
            for t in insp.get_table_names()}


def test_upgraded_schema_is_a_new_ledgers_and_bad_ledgers_are_refused(
        old: tuple[str, Path, Any, set[str]], tmp_path: Path) -> None:
    url, db, _, _ = old
    tampered = tmp_path / "tampered.db"
    tampered.write_bytes(db.read_bytes())
    with sqlite3.connect(tampered) as c:
        c.execute("UPDATE audit SET payload = '{\"rows\": 1}' WHERE seq = 3")
    with pytest.raises(ObliviateError, match="not upgrading: the audit chain is broken at "
                                             "entry 3"):
        from obliviate.service.schema import upgrade

        upgrade(f"sqlite:///{tampered}")
    assert "signature" not in _columns(tampered, "audit")  # left as it was
    assert main(["ledger", "upgrade", "--db", url]) == 0
    fresh = f"sqlite:///{tmp_path}/fresh.db"
    open_ledger(fresh).dispose()
    assert _schema(url) == _schema(fresh)
    # The migrations alone, from an empty database, build the same schema too.
    from alembic import command

    from obliviate.service.ledger import connect
    from obliviate.service.schema import _config

    with connect(f"sqlite:///{tmp_path}/steps.db").begin() as conn:
        command.upgrade(_config(conn), "head")
    assert _schema(f"sqlite:///{tmp_path}/steps.db") == _schema(fresh)
    with sqlite3.connect(tmp_path / "fresh.db") as c:
        assert c.execute("SELECT version_num FROM alembic_version").fetchall() == [("0002",)]
        c.execute("UPDATE alembic_version SET version_num = '0099'")
    with pytest.raises(ObliviateError, match="'0099' is not one this obliviate knows"):
        open_ledger(fresh)
    assert main(["ledger", "upgrade", "--db", f"sqlite:///{tmp_path}/none.db"]) == 2


def test_an_upgrade_interrupted_after_migrating_is_finished_by_a_rerun(
        old: tuple[str, Path, Any, set[str]], capsys: pytest.CaptureFixture[str]) -> None:
    """Killed between its two transactions, an upgrade leaves the new schema with the old
    entries unsigned: ``audit verify`` says so, and running the upgrade again signs them."""
    from alembic import command

    from obliviate.service.ledger import connect
    from obliviate.service.schema import _config, stamp

    url, db, _, _ = old
    n_old = len(_rows(db, "audit", ["seq"]))
    with connect(url).begin() as conn:  # the first transaction of schema.upgrade only
        stamp(conn, "0001")
        command.upgrade(_config(conn), "head")
    assert main(["audit", "verify", "--db", url]) == 1
    assert "entry 1 (deployment.created): its Ed25519 signature is missing" in \
        capsys.readouterr().err
    assert main(["ledger", "upgrade", "--db", url]) == 0
    assert f"at schema version 0002; {n_old} audit entries signed (an earlier upgrade " \
        "stopped" in capsys.readouterr().out
    assert main(["audit", "verify", "--db", url]) == 0
