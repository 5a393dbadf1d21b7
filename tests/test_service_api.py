"""The deletion service's API (issue 14) through FastAPI's TestClient, with the worker run
in-process: round trip to a deployed, verified version; idempotency; tokens, scopes and
tenants; bad input is a 4xx naming the problem (by hand, then fuzzed from the OpenAPI
schema with schemathesis)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from obliviate.service.api import create_app
from obliviate.service.deploy import Registered
from obliviate.service.ledger import AuditEntry, DeletionRequest, open_ledger
from obliviate.service.worker import Worker, WorkerConfig
from service_helpers import check_ledger, tiny_deployment


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, Path]:
    d = tmp_path_factory.mktemp("ledger")
    return open_ledger(f"sqlite:///{d}/ledger.db"), d


@pytest.fixture(scope="module")
def dep(ledger: tuple[Engine, Path]) -> Registered:
    return tiny_deployment(ledger[0], ledger[1] / "art")


@pytest.fixture(scope="module")
def other(ledger: tuple[Engine, Path]) -> Registered:
    """A second tenant's deployment in the same ledger."""
    return tiny_deployment(ledger[0], ledger[1] / "art")


@pytest.fixture(scope="module")
def client(ledger: tuple[Engine, Path]) -> Iterator[TestClient]:
    with TestClient(create_app(ledger[0], max_body=4096)) as c:
        yield c


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def submit(client: TestClient, dep: Registered, body: dict[str, Any],
           token: str | None = None) -> Any:
    return client.post(f"/v1/deployments/{dep.deployment_id}/deletions", json=body,
                       headers=auth(token or dep.token))


def test_round_trip_to_a_verified_version(client: TestClient, dep: Registered,
                                          ledger: tuple[Engine, Path]) -> None:
    """Two requests (a subject, and row ids) are acknowledged as committed, coalesced into
    one job, honoured in version 2, and each has a report saying its rows are in no shard."""
    a = submit(client, dep, {"subject": "user-7", "idempotency_key": "rt-a"})
    b = submit(client, dep, {"row_ids": [3, 4], "idempotency_key": "rt-b"})
    assert a.status_code == b.status_code == 202, (a.text, b.text)
    ra, rb = a.json()["request_id"], b.json()["request_id"]
    assert a.json()["state"] == "committed"
    assert Worker(ledger[0], WorkerConfig(poll=0.05)).run(until_idle=True) == 1
    base = f"/v1/deployments/{dep.deployment_id}"
    for rid in (ra, rb):
        got = client.get(f"{base}/deletions/{rid}", headers=auth(dep.token)).json()
        assert got["state"] == "deployed" and got["version"] == 2, got
    rep = client.get(f"{base}/deletions/{ra}/verification", headers=auth(dep.token)).json()
    assert rep["passed"] is True and rep["guarantee"] == "exact"
    rows = rep["rows"]["rows"]
    assert rows and all(r % 200 == 7 for r in rows)  # user-7's rows (subject = id mod 200)
    assert set(rep["retrained_shards"]) == {rep["rows"]["row_shards"][str(r)] for r in rows}
    vs = client.get(f"{base}/versions", headers=auth(dep.token)).json()
    assert vs["current"] == 2 and [v["number"] for v in vs["versions"]] == [1, 2]
    assert sorted(vs["versions"][1]["requests"]) == sorted([ra, rb])
    check_ledger(ledger[0], {ra, rb})


def test_same_idempotency_key_gives_the_same_request(client: TestClient,
                                                     dep: Registered) -> None:
    body = {"subject": "user-9", "idempotency_key": "same-key"}
    first, again = submit(client, dep, body), submit(client, dep, body)
    assert first.status_code == again.status_code == 202
    assert first.json()["request_id"] == again.json()["request_id"]
    clash = submit(client, dep, {"subject": "user-10", "idempotency_key": "same-key"})
    assert clash.status_code == 409 and "same-key" in clash.json()["error"]


def test_tokens_scopes_and_tenants(client: TestClient, dep: Registered,
                                   other: Registered) -> None:
    base = f"/v1/deployments/{dep.deployment_id}"
    body = {"subject": "user-1", "idempotency_key": "auth-1"}
    assert client.post(f"{base}/deletions", json=body).status_code == 401
    wrong = dep.token[:-4] + ("AAAA" if not dep.token.endswith("AAAA") else "BBBB")
    r = client.post(f"{base}/deletions", json=body, headers=auth(wrong))
    assert r.status_code == 401 and r.json()["error"] == "unknown token"
    assert client.get(base, headers={"Authorization": "Basic x"}).status_code == 401
    # A read-only token cannot submit; revoked, it cannot read either.
    made = client.post("/v1/tokens", json={"scopes": ["read"]}, headers=auth(dep.token))
    assert made.status_code == 201
    reader = made.json()["token"]
    assert client.get(base, headers=auth(reader)).status_code == 200
    r = client.post(f"{base}/deletions", json=body, headers=auth(reader))
    assert r.status_code == 403 and "submit" in r.json()["error"]
    assert client.delete(f"/v1/tokens/{made.json()['id']}",
                         headers=auth(dep.token)).status_code == 200
    r = client.get(base, headers=auth(reader))
    assert r.status_code == 401 and r.json()["error"] == "token revoked"
    # Another tenant's deployment, request and token look absent, exactly like made-up ids.
    mine = submit(client, dep, body).json()["request_id"]
    for path in (f"/v1/deployments/{other.deployment_id}",
                 f"/v1/deployments/{other.deployment_id}/versions",
                 f"/v1/deployments/{other.deployment_id}/deletions",
                 "/v1/deployments/dep_000000000000"):
        r = client.get(path, headers=auth(dep.token))
        assert r.status_code == 404, (path, r.text)
    r = client.get(f"/v1/deployments/{other.deployment_id}/deletions/{mine}",
                   headers=auth(other.token))
    assert r.status_code == 404
    r = submit(client, other, body, token=dep.token)
    assert r.status_code == 404 and other.deployment_id in r.json()["error"]


@pytest.mark.parametrize(("body", "names"), [
    ({"idempotency_key": "k"}, "exactly one of subject or row_ids"),
    ({"subject": "u", "row_ids": [1], "idempotency_key": "k"}, "exactly one"),
    ({"subject": "user-1"}, "idempotency_key"),
    ({"subject": "user-1", "idempotency_key": "k", "extra": 1}, "extra"),
    ({"row_ids": ["1"], "idempotency_key": "k"}, "row_ids.0"),
    ({"row_ids": [-1], "idempotency_key": "k"}, "row_ids.0"),
    ({"row_ids": [2**63], "idempotency_key": "k"}, "row_ids.0"),
    ({"row_ids": [], "idempotency_key": "k"}, "row_ids"),
    ({"subject": "a\x00b", "idempotency_key": "k"}, "subject"),
    ({"subject": "user-1", "idempotency_key": "has space"}, "idempotency_key"),
    ({"subject": "nobody", "idempotency_key": "k"}, "subject 'nobody' has no rows"),
    ({"row_ids": [2], "idempotency_key": "k"}, "not training rows"),  # row 2 is a test row
])
def test_bad_bodies_are_4xx_naming_the_problem(client: TestClient, dep: Registered,
                                               ledger: tuple[Engine, Path],
                                               body: dict[str, Any], names: str) -> None:
    before = _counts(ledger[0])
    r = submit(client, dep, body)
    assert 400 <= r.status_code < 500 and names in r.json()["error"], r.text
    assert _counts(ledger[0]) == before  # a rejected request changes nothing


def test_malformed_and_oversized_bodies(client: TestClient, dep: Registered) -> None:
    url = f"/v1/deployments/{dep.deployment_id}/deletions"
    r = client.post(url, content=b"{not json", headers={**auth(dep.token),
                                                        "Content-Type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.json()["error"]
    big = json.dumps({"subject": "x" * 5000, "idempotency_key": "k"})
    r = client.post(url, content=big, headers={**auth(dep.token),
                                               "Content-Type": "application/json"})
    assert r.status_code == 413 and "4096 bytes" in r.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield big.encode()[:3000]
        yield big.encode()[3000:]

    r = client.post(url, content=chunks(), headers={**auth(dep.token),
                                                    "Content-Type": "application/json"})
    assert r.status_code == 413


def _counts(engine: Engine) -> tuple[int, int]:
    with Session(engine) as s:
        return (s.scalar(select(func.count()).select_from(DeletionRequest)) or 0,
                s.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def test_fuzzed_schema_never_500(ledger: tuple[Engine, Path], dep: Registered) -> None:
    """schemathesis generates requests from /openapi.json for every operation, sent with a
    valid admin token so that the handlers are reached: no response is a 5xx, and a
    request answered with a 4xx leaves the ledger unchanged."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    app = create_app(ledger[0], limit=None)  # the handlers are under test, not the limit
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    statuses: dict[str, set[int]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=12, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def fuzz(case: Any) -> None:
            if "dep_id" in (case.path_parameters or {}) and hash(str(case.body)) % 2:
                case.path_parameters["dep_id"] = dep.deployment_id  # reach past the 404
            before = _counts(ledger[0])
            r = case.call(headers=auth(dep.token))
            statuses.setdefault(case.operation.label, set()).add(r.status_code)
            assert r.status_code < 500, (case.as_curl_command(), r.text)
            if r.status_code >= 400:
                assert _counts(ledger[0]) == before, case.as_curl_command()

        fuzz()
    print("fuzzed statuses:", {k: sorted(v) for k, v in statuses.items()})
    assert len(statuses) >= 8  # every operation was exercised
