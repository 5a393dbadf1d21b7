"""The ledger: one transactional database, SQLite (WAL) by default, PostgreSQL by URL.

Every state the service cares about lives here, so that a process can die at any point and
the next one carries on from the last commit (DESIGN.md, "Data that must never be lost").

SQLite choices: WAL journal (readers never block the writer), ``synchronous=FULL`` (a
committed request survives power loss, not only a crash of the process), and every
transaction opened with ``BEGIN IMMEDIATE``: a transaction that reads and then writes would
otherwise fail with "database is locked" when another writer got in between, instead of
waiting its turn (``busy_timeout``).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    BigInteger,
    Engine,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    exc,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from obliviate.errors import ObliviateError

POLICIES = ("exact", "approximate")
# A request's lifecycle (issue 14). "received" is never stored: a request is acknowledged
# only once committed, so the first state anyone can observe is "committed".
REQUEST_STATES = ("committed", "batched", "unlearning", "verifying", "deployed", "failed",
                  "parked")
# A job is one batch of a deployment's requests; "failed" waits for its retry (backoff).
JOB_STATES = ("batched", "unlearning", "verifying", "deployed", "failed", "parked")
OPEN_JOB_STATES = ("batched", "unlearning", "verifying", "failed")


class Base(DeclarativeBase):
    pass


class Deployment(Base):
    __tablename__ = "deployments"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    policy: Mapped[str] = mapped_column(String(16))
    config: Mapped[str] = mapped_column(Text)  # JSON: what the policy needs to rebuild it
    root: Mapped[str] = mapped_column(Text)  # directory of checkpoints and version files
    current_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Bumped by whoever creates a batch: on PostgreSQL the UPDATE locks the row, so two
    # workers never open two jobs for one deployment.
    batch_seq: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[float] = mapped_column(Float)


class ManifestRow(Base):
    """One training row: its content hash, its subject, and the version that deleted it."""
    __tablename__ = "manifest"
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id"), primary_key=True)
    row_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    content_sha256: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(256), index=True)
    deleted_in: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ModelVersion(Base):
    __tablename__ = "versions"
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    parent: Mapped[int | None] = mapped_column(Integer, nullable=True)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(64))
    config: Mapped[str] = mapped_column(Text)  # JSON
    requests: Mapped[str] = mapped_column(Text)  # JSON list of request ids honoured
    rows_removed: Mapped[str] = mapped_column(Text)  # JSON list of row ids
    verification: Mapped[str] = mapped_column(Text)  # JSON report
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    created: Mapped[float] = mapped_column(Float)
    pruned: Mapped[float | None] = mapped_column(Float, nullable=True)  # weights deleted at


class DeletionRequest(Base):
    __tablename__ = "requests"
    __table_args__ = (UniqueConstraint("deployment_id", "idempotency_key"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(128))
    body_sha256: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(256), nullable=True)
    row_ids: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON list
    state: Mapped[str] = mapped_column(String(16), index=True)
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    token_id: Mapped[str] = mapped_column(String(32))
    created: Mapped[float] = mapped_column(Float)
    updated: Mapped[float] = mapped_column(Float)


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id"), index=True)
    # "deletions" (a batch of requests) or "retrain" (the approximate policy's budget reset)
    kind: Mapped[str] = mapped_column(String(16), default="deletions")
    state: Mapped[str] = mapped_column(String(16), index=True)
    parent: Mapped[int | None] = mapped_column(Integer, nullable=True)  # version it starts from
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires: Mapped[float | None] = mapped_column(Float, nullable=True)
    next_attempt: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created: Mapped[float] = mapped_column(Float)
    updated: Mapped[float] = mapped_column(Float)


class Token(Base):
    """An API token: only a salted scrypt hash of its secret is stored (``tokens.py``)."""
    __tablename__ = "tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    scopes: Mapped[str] = mapped_column(String(64))  # comma-separated
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    digest: Mapped[bytes] = mapped_column(LargeBinary(64))
    label: Mapped[str] = mapped_column(String(200))
    created: Mapped[float] = mapped_column(Float)
    expires: Mapped[float | None] = mapped_column(Float, nullable=True)
    revoked: Mapped[float | None] = mapped_column(Float, nullable=True)


class AuditEntry(Base):
    """Append-only; ``hash`` covers every field and ``prev_hash`` (``audit.py``)."""
    __tablename__ = "audit"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at_us: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64))
    deployment_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    object_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON, hashed as stored
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    signature: Mapped[str | None] = mapped_column(String(128), nullable=True)  # signing.py


class AuditKey(Base):
    """One row: the public half of the Ed25519 key that signs this ledger's audit log."""
    __tablename__ = "audit_key"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    public_key: Mapped[str] = mapped_column(String(64))
    created: Mapped[float] = mapped_column(Float)


class ChainHead(Base):
    """One row: the last audit entry. Appending locks it, so the chain never forks."""
    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


GENESIS = "0" * 64


def new_id(prefix: str, nbytes: int = 8) -> str:
    return f"{prefix}_{secrets.token_hex(nbytes)}"


def now() -> float:
    return time.time()


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def connect(dbapi: Any, _record: Any) -> None:
        dbapi.isolation_level = None  # SQLAlchemy's "begin" below decides how to begin
        cur = dbapi.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def connect(url: str) -> Engine:
    """An engine on ``url``, nothing read or written yet; one-line errors for bad URLs."""
    try:
        if url.startswith("sqlite"):
            if url in ("sqlite://", "sqlite:///:memory:") or ":memory:" in url:
                raise ObliviateError(f"--db {url!r}: an in-memory SQLite ledger is private to "
                                     "one process; give a file, e.g. sqlite:///ledger.db")
            engine = create_engine(url, connect_args={"timeout": 30,
                                                      "check_same_thread": False})
            _sqlite_pragmas(engine)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except (exc.ArgumentError, exc.NoSuchModuleError) as e:
        raise ObliviateError(f"--db {url!r} is not a database URL SQLAlchemy can open "
                             f"(e.g. sqlite:///ledger.db or postgresql+psycopg://...): "
                             f"{e}") from None
    except ImportError as e:
        raise ObliviateError(f"--db {url!r}: the driver is not installed ({e})") from None
    return engine


def open_ledger(url: str, *, create: bool = True) -> Engine:
    """An engine on ``url`` with the schema created and the audit key loaded (entries it
    appends are signed); ``create=False``: read only, no key needed (``audit verify``).
    A ledger of an older schema is refused, naming the command that upgrades it
    (``schema.py``). One-line errors for bad URLs."""
    from obliviate.service import schema

    engine = connect(url)
    try:
        found = schema.found(engine)
        if found.revision is not None and found.revision != schema.HEAD:
            raise ObliviateError(schema.refusal(url, found.revision))
        if create:
            if found.revision is None:
                schema.create(engine)
            elif not found.stamped:  # today's columns, from before revisions were recorded
                with engine.begin() as conn:
                    schema.stamp(conn, schema.HEAD)
            with tx(engine) as s:
                if s.get(ChainHead, 1) is None:
                    s.add(ChainHead(id=1, seq=0, hash=GENESIS))
    except exc.IntegrityError:
        pass  # another process created the head at the same moment
    except exc.OperationalError as e:
        raise ObliviateError(f"--db {url!r}: cannot open the ledger: "
                             f"{str(e.orig).strip().splitlines()[0]}") from None
    if create:
        from obliviate.service.signing import attach

        attach(engine, url)
    return engine


@contextmanager
def tx(engine: Engine) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back on any exception."""
    with Session(engine, expire_on_commit=False) as s, s.begin():
        yield s


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
