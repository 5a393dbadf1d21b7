"""Per-token rate limits (429 with Retry-After and a message), and the admin operations on
versions: rollback (refused when it would restore deleted rows; audited; open jobs follow)
and prune (never the current version; the weights go, the record stays)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from obliviate.cli import main
from obliviate.service.api import create_app
from obliviate.service.deploy import deploy
from obliviate.service.ledger import AuditEntry, ModelVersion, open_ledger
from obliviate.service.limits import Buckets, RateLimit
from obliviate.service.worker import Worker, WorkerConfig
from service_helpers import check_ledger, tiny_deployment


def test_token_bucket_by_hand() -> None:
    """rate 2/s, burst 3: three requests at t=0 pass, the fourth waits (1 - 0) / 2 = 0.5 s;
    at t=0.25 half a token has refilled, so the wait is (1 - 0.5) / 2 = 0.25 s; at t=0.5
    one token is back and the request passes. Another key has its own bucket."""
    t = [0.0]
    b = Buckets(RateLimit(rate=2.0, burst=3), clock=lambda: t[0])
    assert [b.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert b.take("a") == pytest.approx(0.5)
    t[0] = 0.25
    assert b.take("a") == pytest.approx(0.25)
    t[0] = 0.5
    assert b.take("a") == 0.0 and b.take("b") == 0.0
    assert Buckets.retry_after(0.25) == "1" and Buckets.retry_after(2.1) == "3"
    with pytest.raises(ValueError, match="rate=0"):
        RateLimit(rate=0)


def test_rate_limit_is_per_token_429_with_retry_after(tmp_path: Path) -> None:
    engine = open_ledger(f"sqlite:///{tmp_path}/l.db")
    dep = tiny_deployment(engine, tmp_path / "art")
    with TestClient(create_app(engine, limit=RateLimit(rate=0.5, burst=3))) as c:
        h = {"Authorization": f"Bearer {dep.token}"}
        base = f"/v1/deployments/{dep.deployment_id}"
        assert [c.get(base, headers=h).status_code for _ in range(3)] == [200] * 3
        before = len(audit_events(engine))
        r = c.post(f"{base}/deletions", json={"subject": "user-1", "idempotency_key": "x"},
                   headers=h)
        assert r.status_code == 429 and r.headers["Retry-After"] == "2", r.headers
        assert "rate limit: 0.5 requests/s per token" in r.json()["error"]
        assert len(audit_events(engine)) == before  # refused: nothing committed
        reader = c.post("/v1/tokens", json={"scopes": ["read"]}, headers=h)
        assert reader.status_code == 429  # the admin token is still out of tokens
    with TestClient(create_app(engine, limit=RateLimit(rate=0.5, burst=3))) as c:
        made = c.post("/v1/tokens", json={"scopes": ["read"]}, headers=h).json()["token"]
        for _ in range(3):
            c.get(base, headers=h)
        assert c.get(base, headers=h).status_code == 429
        assert c.get(base, headers={"Authorization": f"Bearer {made}"}).status_code == 200


def audit_events(engine: object) -> list[str]:
    with Session(engine) as s:  # type: ignore[call-overload]
        return list(s.execute(select(AuditEntry.event)).scalars())


def test_rollback_and_prune(tmp_path: Path) -> None:
    engine = open_ledger(f"sqlite:///{tmp_path}/l.db")
    reg = deploy(engine, root=tmp_path / "art", scenario="digits", train=None,
                 policy="approximate", epochs=3, method="ft", method_set=["epochs=2"],
                 thresholds="forget_acc_gap_max=0.3", budget=1)
    worker = Worker(engine, WorkerConfig(poll=0.05, backoff=0, max_attempts=1))
    h = {"Authorization": f"Bearer {reg.token}"}
    base = f"/v1/deployments/{reg.deployment_id}"
    with TestClient(create_app(engine)) as c:
        def post(url: str, body: dict[str, object], headers: dict[str, str] = h) -> object:
            return c.post(f"{base}{url}", json=body, headers=headers)

        acked = [post("/deletions", {"subject": "user-5", "idempotency_key": "a"})
                 .json()["request_id"]]  # type: ignore[attr-defined]
        worker.run(until_idle=True)  # v2 (ft) and, the budget spent, v3 (retrain)
        vs = c.get(f"{base}/versions", headers=h).json()
        assert [v["method"] for v in vs["versions"]] == ["train", "ft", "retrain"]
        reader = c.post("/v1/tokens", json={"scopes": ["read", "submit"]},
                        headers=h).json()["token"]
        r = post("/rollback", {"version": 2}, {"Authorization": f"Bearer {reader}"})
        assert r.status_code == 403 and "admin" in r.json()["error"]  # type: ignore[attr-defined]
        r = post("/rollback", {"version": 1})
        assert r.status_code == 409 and "would restore" in r.json()["error"]  # type: ignore[attr-defined]
        assert post("/rollback", {"version": 9}).status_code == 404  # type: ignore[attr-defined]
        assert post("/rollback", {"version": "2"}).status_code == 422  # type: ignore[attr-defined]
        r = post("/rollback", {"version": 2, "reason": "retrain regressed"})
        assert r.status_code == 200 and r.json() == {"current": 2, "previous": 3}  # type: ignore[attr-defined]
        r = c.delete(f"{base}/versions/2", headers=h)
        assert r.status_code == 409 and "is current" in r.json()["error"]
        path3 = _path(engine, reg.deployment_id, 3)
        assert c.delete(f"{base}/versions/3", headers={"Authorization": f"Bearer {reader}"}
                        ).status_code == 403
        assert c.delete(f"{base}/versions/3", headers=h).status_code == 200
        assert not path3.exists()
        r = post("/rollback", {"version": 3})
        assert r.status_code == 409 and "pruned" in r.json()["error"]  # type: ignore[attr-defined]
        vs = c.get(f"{base}/versions", headers=h).json()
        assert vs["current"] == 2 and [v["pruned"] for v in vs["versions"]] == [
            False, False, True]
        other = tiny_deployment(engine, tmp_path / "art")  # another tenant: 404, not 403
        r = c.post(f"/v1/deployments/{reg.deployment_id}/rollback", json={"version": 2},
                   headers={"Authorization": f"Bearer {other.token}"})
        assert r.status_code == 404
        # The next deletion starts from the rolled-back version.
        acked.append(post("/deletions", {"subject": "user-6", "idempotency_key": "b"})
                     .json()["request_id"])  # type: ignore[attr-defined]
        worker.run(until_idle=True)
    with Session(engine) as s:
        v4 = s.get(ModelVersion, (reg.deployment_id, 4))
    assert v4 is not None and v4.parent == 2
    events = audit_events(engine)
    assert events.count("version.rolled_back") == 1 and events.count("version.pruned") == 1
    check_ledger(engine, set(acked))
    assert main(["audit", "verify", "--db", f"sqlite:///{tmp_path}/l.db"]) == 0


def _path(engine: object, dep: str, n: int) -> Path:
    with Session(engine) as s:  # type: ignore[call-overload]
        v = s.get(ModelVersion, (dep, n))
        assert v is not None
        return Path(v.path)
