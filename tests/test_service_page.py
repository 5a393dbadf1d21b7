"""The Deletions page (``GET /deletions`` of ``obliviate serve``) in the real headless
Chromium: a deployment's requests with their states, its versions with each one's checks,
retrained shards and audit position. What the page shows is checked against what this test
did (which requests it left committed, which it let the worker deploy, and in which batch),
against the SISA layout recomputed here from its definition (sha256 of ``sisa/<seed>/<row>``,
mod the shard count), and against the audit chain read directly. The page needs a token with
the read scope and shows nothing of another tenant."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from obliviate.service.api import create_app
from obliviate.service.deploy import Registered
from obliviate.service.ledger import AuditEntry, ManifestRow, open_ledger
from obliviate.service.worker import Worker, WorkerConfig
from service_helpers import free_port, start_server, tiny_deployment

SHARDS = 3  # service_helpers.TRAIN


@dataclass
class Served:
    url: str
    a: Registered
    b: Registered
    reader: str  # tenant A, read scope only
    submitter: str  # tenant A, submit scope only
    batches: list[list[str]]  # tenant A's requests, in the order the worker deployed them
    waiting: list[str]  # tenant A's requests left committed
    b_requests: list[str]
    subjects: dict[str, str]  # request id -> subject
    rows: dict[str, list[int]]  # subject -> its training rows (from the manifest)
    promoted_seq: dict[int, int]  # tenant A's version -> seq of its version.promoted entry


def _shard(row: int, seed: int = 0) -> int:
    """guaranteed/sisa.py's layout, recomputed from its docstring's definition."""
    h = int.from_bytes(hashlib.sha256(f"sisa/{seed}/{row}".encode()).digest()[:16], "big")
    return h % SHARDS


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    d = tmp_path_factory.mktemp("page")
    url = f"sqlite:///{d}/ledger.db"
    engine = open_ledger(url)
    a, b = tiny_deployment(engine, d / "art"), tiny_deployment(engine, d / "art")
    worker = Worker(engine, WorkerConfig(poll=0.05))
    subjects: dict[str, str] = {}
    with TestClient(create_app(engine, limit=None)) as c:
        def submit(dep: Registered, subject: str, key: str) -> str:
            r = c.post(f"/v1/deployments/{dep.deployment_id}/deletions",
                       json={"subject": subject, "idempotency_key": key},
                       headers={"Authorization": f"Bearer {dep.token}"})
            assert r.status_code == 202, r.text
            subjects[r.json()["request_id"]] = subject
            return str(r.json()["request_id"])

        def token(scope: str) -> str:
            r = c.post("/v1/tokens", json={"scopes": [scope]},
                       headers={"Authorization": f"Bearer {a.token}"})
            assert r.status_code == 201, r.text
            return str(r.json()["token"])

        first = [submit(a, f"user-{k}", f"a{k}") for k in (3, 41, 77)]
        worker.run(until_idle=True)  # one job, one version (2) for the three
        second = [submit(a, "user-120", "a120")]
        worker.run(until_idle=True)  # version 3
        waiting = [submit(a, f"user-{k}", f"w{k}") for k in (5, 6)]  # left committed
        b_requests = [submit(b, "user-9", "b9")]  # tenant B's: never on A's page
        reader, submitter = token("read"), token("submit")
    with Session(engine) as s:
        manifest = s.execute(select(ManifestRow.subject, ManifestRow.row_id).where(
            ManifestRow.deployment_id == a.deployment_id)).all()
        promoted = {int(e.object_id): e.seq for e in s.execute(select(AuditEntry).where(
            AuditEntry.deployment_id == a.deployment_id,
            AuditEntry.event == "version.promoted")).scalars()}
    rows: dict[str, list[int]] = {}
    for subj, r in manifest:
        rows.setdefault(subj, []).append(int(r))
    port = free_port()
    server = start_server(url, port, "--rate", "0")
    try:
        yield Served(f"http://127.0.0.1:{port}", a, b, reader, submitter, [first, second],
                     waiting, b_requests, subjects, rows, promoted)
    finally:
        server.terminate()
        server.wait(10)
        server.stderr.close()  # type: ignore[union-attr]


def _login(browser: Any, served: Served, token: str | None, dep: str = "") -> str:
    """Open the page with a fresh tab state, enter ``token``; the page's final state."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{served.url}/deletions")
    browser.execute_script("sessionStorage.clear();")
    browser.get("about:blank")  # a full load next, never a mere change of #fragment
    browser.get(f"{served.url}/deletions" + (f"#{dep}" if dep else ""))
    body = lambda d: d.find_element("tag name", "body")  # noqa: E731
    WebDriverWait(browser, 15).until(lambda d: body(d).get_attribute("data-state") == "login")
    if token is None:
        return "login"
    browser.find_element("id", "token").send_keys(token)
    browser.find_element("id", "go").click()
    return str(WebDriverWait(browser, 15).until(
        lambda d: body(d).get_attribute("data-state")
        if body(d).get_attribute("data-state") in ("ready", "error") else False))


def _requests(browser: Any) -> dict[str, dict[str, str]]:
    out = {}
    for tr in browser.find_elements("css selector", "#requests tbody tr"):
        tds = tr.find_elements("tag name", "td")
        out[str(tr.get_attribute("data-request"))] = {
            "state": tds[3].text, "version": tds[4].text, "target": tds[2].text}
    return out


def test_page_shows_states_versions_checks_shards_and_audit(browser: Any,
                                                            served: Served) -> None:
    assert _login(browser, served, served.reader) == "ready"
    shown = _requests(browser)
    expected = {q: ("deployed", str(n + 2)) for n, batch in enumerate(served.batches)
                for q in batch} | {q: ("committed", "") for q in served.waiting}
    assert {q: (v["state"], v["version"]) for q, v in shown.items()} == expected
    for q, v in shown.items():
        assert v["target"] == f"subject {served.subjects[q]}"
    assert browser.find_element("id", "counts").text == "(2 committed, 4 deployed)"
    versions = {int(tr.get_attribute("data-version")): tr for tr in
                browser.find_elements("css selector", "#versions tbody tr")}
    assert sorted(versions) == [1, 2, 3]
    assert versions[3].get_attribute("data-current") == "true"
    for n, tr in versions.items():
        tds = tr.find_elements("tag name", "td")
        assert tds[1].text == ("" if n == 1 else str(n - 1))  # parent
        assert tr.get_attribute("data-passed") == ("null" if n == 1 else "true")
        assert tr.find_element("css selector", "td.audit").get_attribute("data-seq") == \
            str(served.promoted_seq[n])
        if n == 1:
            continue
        batch = served.batches[n - 2]
        assert tr.find_element("css selector", "td.requests").text == ", ".join(sorted(batch))
        deleted = sorted({r for q in batch for r in served.rows[served.subjects[q]]})
        assert tr.find_element("css selector", "td.rows-removed").text == str(len(deleted))
        shards = json.loads(tr.find_element("css selector", "td.shards")
                            .get_attribute("data-shards"))
        assert shards == sorted({_shard(r) for r in deleted})
        checks = {li.get_attribute("data-check"): li.get_attribute("data-pass") for li in
                  tr.find_elements("css selector", "li[data-check]")}
        assert checks["deleted_rows_absent_from_every_shard"] == "true"
        assert set(checks.values()) == {"true"} and len(checks) == 5
    # Tenant B's request id, deployment id and subject appear nowhere on A's page.
    source = browser.page_source
    assert served.b.deployment_id not in source and served.b_requests[0] not in source
    options = [o.get_attribute("value") for o in
               browser.find_elements("css selector", "#deployment option")]
    assert options == [served.a.deployment_id]


def test_another_tenant_sees_only_its_own(browser: Any, served: Served) -> None:
    assert _login(browser, served, served.b.token) == "ready"
    assert set(_requests(browser)) == set(served.b_requests)
    assert served.a.deployment_id not in browser.page_source
    # Asking B's page for A's deployment by id: the API's 404, shown; none of A's data.
    assert _login(browser, served, served.b.token, served.a.deployment_id) == "error"
    assert browser.find_element("id", "error").text == \
        f"404: no deployment '{served.a.deployment_id}'"
    assert not browser.find_element("id", "content").is_displayed()
    assert not any(q in browser.page_source for b in served.batches for q in b)


def test_the_page_needs_a_read_token(browser: Any, served: Served) -> None:
    assert _login(browser, served, None) == "login"
    assert not browser.find_element("id", "content").is_displayed()
    assert _login(browser, served, served.submitter) == "error"
    assert browser.find_element("id", "error").text == "403: this token lacks the 'read' scope"
    assert _login(browser, served, "obl_nope_nope") == "error"
    assert browser.find_element("id", "error").text.startswith("401: ")
    # The shell itself holds no data: the same bytes whoever asks.
    with urllib.request.urlopen(f"{served.url}/deletions", timeout=10) as r:
        html = r.read().decode()
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert "req_" not in html and "dep_" not in html
