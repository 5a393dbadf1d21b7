"""API tokens: ``obl_<id>_<secret>``; the ledger keeps the id, a random salt and
``scrypt(secret, salt)`` only, so a copy of the database gives no usable token.

scrypt with n=2**14, r=8, p=1 (RFC 7914's interactive parameters) costs ~30-50 ms: checked
on every request it would cap a server at a few dozen requests/s, so a successful check is
remembered in memory by a sha256 of the whole token (never written anywhere). Revocation and
expiry are read from the ledger on every request, so they act at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from obliviate.service.ledger import Token, new_id, now

SCOPES = ("submit", "read", "admin")
_N, _R, _P = 2**14, 8, 1


def _digest(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32,
                          maxmem=64 * 1024 * 1024)


def create_token(s: Session, tenant: str, scopes: tuple[str, ...], label: str,
                 expires: float | None = None) -> tuple[Token, str]:
    """A new token row and the token string (shown once, never stored)."""
    bad = [x for x in scopes if x not in SCOPES]
    if bad or not scopes:
        raise ValueError(f"scopes {list(scopes)}: valid scopes are {', '.join(SCOPES)}")
    tid, secret, salt = new_id("tok", 6), secrets.token_urlsafe(24), secrets.token_bytes(16)
    row = Token(id=tid, tenant=tenant, scopes=",".join(scopes), salt=salt,
                digest=_digest(secret, salt), label=label, created=now(), expires=expires,
                revoked=None)
    s.add(row)
    return row, f"obl_{tid.removeprefix('tok_')}_{secret}"


@dataclass(frozen=True)
class Principal:
    token_id: str
    tenant: str
    scopes: frozenset[str]


class TokenChecker:
    """Checks a presented token against the ledger; ``None`` for anything not valid now."""

    def __init__(self) -> None:
        self._verified: dict[str, str] = {}  # sha256(token) -> token id

    def check(self, s: Session, presented: str) -> tuple[Principal | None, str]:
        parts = presented.split("_")
        if len(parts) < 3 or parts[0] != "obl":
            return None, "malformed token (expected obl_<id>_<secret>)"
        tid, secret = f"tok_{parts[1]}", "_".join(parts[2:])
        row = s.get(Token, tid)
        if row is None:
            return None, "unknown token"
        if row.revoked is not None:
            return None, "token revoked"
        if row.expires is not None and row.expires <= now():
            return None, "token expired"
        fingerprint = hashlib.sha256(presented.encode()).hexdigest()
        if self._verified.get(fingerprint) != tid:
            if not hmac.compare_digest(_digest(secret, row.salt), row.digest):
                return None, "unknown token"
            if len(self._verified) > 10000:
                self._verified.clear()
            self._verified[fingerprint] = tid
        return Principal(row.id, row.tenant, frozenset(row.scopes.split(","))), ""
