"""The ledger and the service's commands: SQLite in WAL mode, the audit chain (and that
altering, removing or reordering an entry is caught and named), ``obliviate deploy`` and
``obliviate audit verify`` from the command line, one-line errors with exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from obliviate.cli import main
from obliviate.service import audit
from obliviate.service.ledger import AuditEntry, ChainHead, open_ledger, tx
from service_helpers import TRAIN


def test_sqlite_ledger_is_wal(tmp_path: Path) -> None:
    engine = open_ledger(f"sqlite:///{tmp_path}/l.db")
    with engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def _chain(tmp_path: Path, n: int = 5) -> object:
    engine = open_ledger(f"sqlite:///{tmp_path}/a.db")
    for i in range(n):
        with tx(engine) as s:
            audit.append(s, "test", "thing.happened", object_id=str(i), payload={"i": i})
    return engine


@pytest.mark.parametrize("tamper", ["payload", "remove", "swap", "truncate", "rehash",
                                    "recompute", "unsigned"])
def test_audit_chain_names_the_first_broken_entry(tmp_path: Path, tamper: str) -> None:
    engine = _chain(tmp_path)
    assert audit.verify(engine).ok  # type: ignore[arg-type]
    with Session(engine) as s, s.begin():  # type: ignore[call-overload]
        if tamper == "payload":
            s.execute(update(AuditEntry).where(AuditEntry.seq == 3)
                      .values(payload='{"i":99}'))
        elif tamper == "remove":
            s.execute(delete(AuditEntry).where(AuditEntry.seq == 3))
        elif tamper == "swap":  # entries 2 and 3 exchange their contents
            a, b = (s.get(AuditEntry, k) for k in (2, 3))
            pa, pb = a.payload, b.payload  # type: ignore[union-attr]
            s.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(payload=pb))
            s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(payload=pa))
        elif tamper == "rehash":  # a forger rewrites entry 3 with a valid hash and patches
            e = s.get(AuditEntry, 3)  # entry 4's prev_hash: entry 4's own hash gives it away
            assert e is not None
            h = audit.entry_hash(3, e.prev_hash, e.at_us, e.actor, e.event, e.deployment_id,
                                 e.object_id, '{"i":99}')
            s.execute(update(AuditEntry).where(AuditEntry.seq == 3)
                      .values(payload='{"i":99}', hash=h))
            s.execute(update(AuditEntry).where(AuditEntry.seq == 4).values(prev_hash=h))
        elif tamper == "recompute":  # a forger recomputes the whole chain from entry 3 on:
            prev = s.get(AuditEntry, 2).hash  # type: ignore[union-attr]  # only signatures
            for seq in range(3, 6):  # catch it
                e = s.get(AuditEntry, seq)
                assert e is not None
                payload = '{"i":99}' if seq == 3 else e.payload
                h = audit.entry_hash(seq, prev, e.at_us, e.actor, e.event, e.deployment_id,
                                     e.object_id, payload)
                s.execute(update(AuditEntry).where(AuditEntry.seq == seq)
                          .values(payload=payload, prev_hash=prev, hash=h))
                prev = h
            s.execute(update(ChainHead).where(ChainHead.id == 1).values(hash=prev))
        elif tamper == "unsigned":
            s.execute(update(AuditEntry).where(AuditEntry.seq == 4).values(signature=None))
        else:
            s.execute(delete(AuditEntry).where(AuditEntry.seq == 5))
    report = audit.verify(engine)  # type: ignore[arg-type]
    want = {"payload": 3, "remove": 3, "swap": 2, "truncate": 5, "rehash": 3,
            "recompute": 3, "unsigned": 4}[tamper]
    assert not report.ok and report.broken == want, report
    if tamper in ("rehash", "recompute", "unsigned"):
        assert "signature" in report.reason, report


def test_deploy_and_audit_verify_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          ) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    assert main(["--home", str(tmp_path), "deploy", "--db", url, "--train", TRAIN,
                 "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("deployment: dep_") and "admin token: obl_" in out
    pub = out.split("audit public key: ")[1].split()[0]
    assert main(["audit", "verify", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "3 entries, chain and signatures verify" in out
    key = open_ledger(url)  # the key file beside the ledger is what signs
    assert (tmp_path / "cli.db.audit-key").stat().st_mode & 0o777 == 0o600
    del key
    assert main(["audit", "verify", "--db", url, "--public-key", pub]) == 0
    capsys.readouterr()
    assert main(["audit", "verify", "--db", url, "--public-key", "00" * 32]) == 1
    assert "not the pinned key" in capsys.readouterr().err
    engine = open_ledger(url)
    with engine.begin() as c:
        c.execute(text("UPDATE audit SET actor = 'mallory' WHERE seq = 2"))
    assert main(["audit", "verify", "--db", url]) == 1
    assert "BROKEN at entry 2" in capsys.readouterr().err
    with Session(engine) as s:
        assert s.scalar(select(AuditEntry.event).where(AuditEntry.seq == 1)) == \
            "deployment.created"


@pytest.mark.parametrize(("argv", "names"), [
    (["audit", "verify", "--db", "nonsense"], "not a database URL"),
    (["audit", "verify", "--db", "sqlite:///:memory:"], "in-memory"),
    (["worker", "--db", "sqlite:///{tmp}/w.db", "--lease", "0"], "lease=0"),
    (["deploy", "--db", "sqlite:///{tmp}/d.db", "--train", "sisa:shards=0"], "shards=0"),
    (["deploy", "--db", "sqlite:///{tmp}/d.db", "--train", "sisa:bogus=1"], "bogus"),
    (["deploy", "--db", "sqlite:///{tmp}/d.db", "--train", "sgd"], "trains one of sisa, s3t"),
    (["deploy", "--db", "sqlite:///{tmp}/d.db", "--policy", "approximate"], "--method"),
    (["serve", "--db", "sqlite:///{tmp}/s.db", "--port", "70000"], "70000"),
    (["audit", "verify", "--db", "sqlite:////nonexistent/dir/x.db"], "cannot open"),
])
def test_service_commands_fail_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           argv: list[str], names: str) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(["--home", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("obliviate: error:") and names in err and err.count("\n") == 1, err
