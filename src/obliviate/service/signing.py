"""Ed25519 signatures on the audit log: one key per ledger.

The private key lives in a file outside the database (``OBLIVIATE_AUDIT_KEY``, or for a
SQLite ledger ``<db file>.audit-key`` beside it; for PostgreSQL ``OBLIVIATE_AUDIT_KEY`` or
``~/.obliviate/audit-<hash of the URL>.key``; every server and worker of one ledger must
read the same file). The ledger stores only the public key, written by the first process
that opens it. Each entry's ``signature`` signs its ``hash``, which covers every field and
the previous hash (``audit.py``): someone who can write the database but not read the key
file can recompute the whole chain, but not the signatures, so ``audit verify`` catches
them. Pin the key with ``audit verify --public-key`` so that replacing the stored public key
along with every signature is caught too.
"""

from __future__ import annotations

import hashlib
import os
import weakref
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import Engine, exc

from obliviate.errors import ObliviateError

ENV = "OBLIVIATE_AUDIT_KEY"
_signers: weakref.WeakKeyDictionary[Engine, Ed25519PrivateKey] = weakref.WeakKeyDictionary()


def key_path(url: str) -> Path:
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    if url.startswith("sqlite"):
        return Path(url.split("///", 1)[1] + ".audit-key")
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    return Path.home() / ".obliviate" / f"audit-{digest}.key"


def load_or_create(path: Path) -> Ed25519PrivateKey:
    """The key in ``path`` (32 raw bytes), created (mode 0600) if absent. Two processes
    creating it at once: ``os.link`` lets exactly one win and the other reads the winner's."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(Ed25519PrivateKey.generate().private_bytes_raw())
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    raw = path.read_bytes()
    if len(raw) != 32:
        raise ObliviateError(f"{path}: not an Ed25519 audit key (want 32 bytes, got "
                             f"{len(raw)})")
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def attach(engine: Engine, url: str) -> None:
    """Load this ledger's key, record its public half in the ledger (the first time) and
    sign every entry appended through ``engine`` from now on."""
    from obliviate.service.ledger import AuditKey, now, tx

    path = key_path(url)
    key = load_or_create(path)
    mine = public_hex(key)
    try:
        with tx(engine) as s:
            row = s.get(AuditKey, 1)
            if row is None:
                s.add(AuditKey(id=1, public_key=mine, created=now()))
    except exc.IntegrityError:
        pass  # another process registered its key at the same moment: compared below
    with tx(engine) as s:
        row = s.get(AuditKey, 1)
        theirs = row.public_key if row is not None else mine
    if theirs != mine:
        raise ObliviateError(f"audit key {path} does not belong to this ledger (its public "
                             f"key is {theirs[:16]}..., the file's {mine[:16]}...); set "
                             f"{ENV} to the ledger's key file")
    _signers[engine] = key


def sign(engine: object, entry_hash: str) -> str | None:
    key = _signers.get(engine) if isinstance(engine, Engine) else None
    return key.sign(bytes.fromhex(entry_hash)).hex() if key is not None else None


def valid(public_key: str, entry_hash: str, signature: str | None) -> bool:
    if not signature:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key)).verify(
            bytes.fromhex(signature), bytes.fromhex(entry_hash))
    except (InvalidSignature, ValueError):
        return False
    return True
