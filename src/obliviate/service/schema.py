"""The ledger's schema version and its migrations (Alembic, ``migrations/``).

A ledger records its schema revision in Alembic's ``alembic_version`` table. ``open_ledger``
creates a new ledger at the newest revision (``HEAD``) and refuses any other with one line
naming the command that upgrades it: ``obliviate ledger upgrade --db URL``. Ledgers made
before revisions were recorded are recognised by their columns (0001: no ``audit.signature``;
0002: today's columns).

``upgrade`` keeps every row: it checks the audit chain first (and refuses a broken one),
runs the migrations in one transaction, then, in a second one, signs the entries an older
obliviate left unsigned (their hashes, and so the chain, are unchanged) and appends a
``ledger.upgraded`` entry saying what it did. Interrupted between the two, a rerun finishes
the signing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, select, update

from obliviate.errors import ObliviateError

HEAD = "0002"
MIGRATIONS = Path(__file__).with_name("migrations")


def _config(conn: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def known() -> list[str]:
    return [s.revision for s in ScriptDirectory.from_config(_config()).walk_revisions()]


@dataclass(frozen=True)
class Found:
    revision: str | None  # None: an empty database (no ledger yet)
    stamped: bool  # the revision is recorded (not inferred from the columns)


def found(engine: Engine) -> Found:
    insp = inspect(engine)
    tables = set(insp.get_table_names())
    if "alembic_version" in tables:
        with engine.connect() as c:
            rev = MigrationContext.configure(c).get_current_revision()
        return Found(rev, True)
    if "deployments" not in tables:
        return Found(None, False)
    need = {"deployments", "manifest", "versions", "requests", "jobs", "tokens", "audit",
            "audit_head"}
    if not need <= tables:
        raise ObliviateError(f"the database has a 'deployments' table but not the ledger's "
                             f"{', '.join(sorted(need - tables))}: not an obliviate ledger")
    signed = "signature" in {c["name"] for c in insp.get_columns("audit")}
    return Found(HEAD if signed and "audit_key" in tables else "0001", False)


def refusal(url: str, rev: str | None) -> str:
    if rev not in known():
        return (f"--db {url!r}: the ledger's schema version {rev!r} is not one this obliviate "
                f"knows (newest {HEAD}): it was written by a newer obliviate; upgrade obliviate")
    return (f"--db {url!r}: the ledger's schema is version {rev}, this obliviate needs "
            f"{HEAD}; back it up, then run: obliviate ledger upgrade --db {url}")


def stamp(conn: Connection, rev: str) -> None:
    command.stamp(_config(conn), rev)


def create(engine: Engine) -> None:
    """A new ledger at ``HEAD`` (tables and revision in one transaction)."""
    from obliviate.service.ledger import Base

    with engine.begin() as conn:
        Base.metadata.create_all(conn)
        if MigrationContext.configure(conn).get_current_revision() is None:
            stamp(conn, HEAD)


@dataclass(frozen=True)
class Upgraded:
    before: str
    after: str
    signed: int  # audit entries signed now (written unsigned by an older obliviate)
    entries: int  # audit entries in the verified chain afterwards


def upgrade(url: str) -> Upgraded:
    from obliviate.service import audit, signing
    from obliviate.service.ledger import AuditEntry, connect, open_ledger, tx

    engine = connect(url)
    f = found(engine)
    if f.revision is None:
        raise ObliviateError(f"--db {url!r} holds no ledger (obliviate deploy creates one)")
    if f.revision not in known():
        raise ObliviateError(refusal(url, f.revision))
    if f.revision != HEAD or not f.stamped:
        chain = audit.verify(engine, signatures=False)
        if not chain.ok:
            raise ObliviateError(f"--db {url!r}: not upgrading: the audit chain is broken at "
                                 f"entry {chain.broken}: {chain.reason}")
        with engine.begin() as conn:
            if not f.stamped:
                stamp(conn, f.revision)
            command.upgrade(_config(conn), HEAD)
    engine.dispose()
    engine = open_ledger(url)  # at HEAD now: the audit key is attached, appends are signed
    with tx(engine) as s:
        unsigned = s.execute(select(AuditEntry.seq, AuditEntry.hash).where(
            AuditEntry.signature.is_(None)).order_by(AuditEntry.seq)).all()
        for seq, h in unsigned:
            s.execute(update(AuditEntry).where(AuditEntry.seq == seq)
                      .values(signature=signing.sign(engine, h)))
        if unsigned or f.revision != HEAD:
            audit.append(s, "ledger upgrade", "ledger.upgraded",
                         payload={"from": f.revision, "to": HEAD,
                                  "signed_entries": len(unsigned),
                                  "signed_range": [unsigned[0][0], unsigned[-1][0]]
                                  if unsigned else None})
    chain = audit.verify(engine)
    if not chain.ok:
        raise ObliviateError(f"--db {url!r}: upgraded, but the audit chain does not verify at "
                             f"entry {chain.broken}: {chain.reason}")
    return Upgraded(f.revision, HEAD, len(unsigned), chain.entries)
