"""The append-only, hash-chained audit log of every state change.

Entry ``n`` stores ``prev_hash`` (entry ``n-1``'s hash, zeros for the first) and
``hash = sha256(canonical JSON of [seq, prev_hash, at_us, actor, event, deployment_id,
object_id, payload])``: changing, removing or reordering any entry breaks every hash after
it, which ``verify`` reports as the first broken entry. Appending locks the one-row chain
head (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite has one writer at a time), so two
concurrent transactions never fork the chain. An entry is written in the same transaction as
the change it records: no change without its entry, no entry without its change. Each
entry is signed with the ledger's Ed25519 key (``signing.py``).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from obliviate.service import signing
from obliviate.service.ledger import GENESIS, AuditEntry, AuditKey, ChainHead


def canonical(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)


def entry_hash(seq: int, prev: str, at_us: int, actor: str, event: str,
               deployment_id: str | None, object_id: str | None, payload: str) -> str:
    body = json.dumps([seq, prev, at_us, actor, event, deployment_id, object_id, payload],
                      separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def append(s: Session, actor: str, event: str, *, deployment_id: str | None = None,
           object_id: str | None = None, payload: Any = None) -> AuditEntry:
    """Add one entry to the chain inside the caller's transaction."""
    head = s.execute(select(ChainHead).where(ChainHead.id == 1).with_for_update()).scalar_one()
    seq, at_us, text = head.seq + 1, time.time_ns() // 1000, canonical(payload or {})
    h = entry_hash(seq, head.hash, at_us, actor, event, deployment_id, object_id, text)
    entry = AuditEntry(seq=seq, at_us=at_us, actor=actor, event=event,
                       deployment_id=deployment_id, object_id=object_id, payload=text,
                       prev_hash=head.hash, hash=h, signature=signing.sign(s.get_bind(), h))
    s.add(entry)
    head.seq, head.hash = seq, h
    return entry


@dataclass(frozen=True)
class ChainReport:
    entries: int
    broken: int | None  # seq of the first broken entry
    reason: str

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify(engine: Engine, *, batch: int = 5000, public_key: str | None = None,
           signatures: bool = True) -> ChainReport:
    """Recompute every hash in order and check every signature (with ``public_key``, or
    the one the ledger stores); the first entry that does not match names the break.
    ``signatures=False``: the hash chain only (an old ledger's, before ``schema.upgrade``
    signs it)."""
    prev, expect, n = GENESIS, 1, 0
    with Session(engine) as s:
        stored = s.get(AuditKey, 1) if signatures else None
        if public_key is not None and stored is not None and stored.public_key != public_key:
            return ChainReport(0, 1, f"the ledger's audit key {stored.public_key[:16]}... is "
                                     f"not the pinned key {public_key[:16]}...")
        key = public_key or (stored.public_key if stored is not None else None)
        last = 0
        while True:
            # Named columns, not the entity: an old ledger has no signature column.
            cols = [AuditEntry.seq, AuditEntry.prev_hash, AuditEntry.at_us, AuditEntry.actor,
                    AuditEntry.event, AuditEntry.deployment_id, AuditEntry.object_id,
                    AuditEntry.payload, AuditEntry.hash] + (
                        [AuditEntry.signature] if signatures else [])
            rows = s.execute(select(*cols).where(AuditEntry.seq > last)
                             .order_by(AuditEntry.seq).limit(batch)).all()
            if not rows:
                break
            for e in rows:
                if e.seq != expect:
                    return ChainReport(n, expect, f"entry {expect} is missing (next is "
                                                  f"{e.seq})")
                if e.prev_hash != prev:
                    return ChainReport(n, e.seq, f"entry {e.seq} does not follow entry "
                                                 f"{e.seq - 1} (prev_hash differs)")
                h = entry_hash(e.seq, e.prev_hash, e.at_us, e.actor, e.event,
                               e.deployment_id, e.object_id, e.payload)
                if h != e.hash:
                    return ChainReport(n, e.seq, f"entry {e.seq} ({e.event}) was altered: "
                                                 "its hash does not match its contents")
                if signatures and (key is None or not signing.valid(key, e.hash,
                                                                     e.signature)):
                    return ChainReport(n, e.seq, f"entry {e.seq} ({e.event}): its Ed25519 "
                                                 "signature is missing or invalid (the "
                                                 "chain was recomputed?)")
                prev, expect, n, last = e.hash, e.seq + 1, n + 1, e.seq
        head = s.get(ChainHead, 1)
        if head is not None and (head.seq != n or head.hash != prev):
            return ChainReport(n, n + 1 if head.seq > n else n,
                               f"the chain head says {head.seq} entries, the log holds {n} "
                               "(entries removed from the end?)")
    return ChainReport(n, None, "chain and signatures verify")
