"""The server killed mid-request (issue 14): ``obliviate serve`` gets SIGKILL while 8
clients are submitting. Every request answered 202 is in the ledger exactly once, with its
``request.committed`` audit entry, and is honoured; a request never answered may be absent
but never half-present (a row without its audit entry, or the reverse). Resubmitted after
a restart with the same idempotency key, an unanswered request that did commit gets its
original id back, so a client that retries loses nothing and duplicates nothing."""

from __future__ import annotations

import http.client
import json
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from obliviate.service.ledger import AuditEntry, DeletionRequest, open_ledger
from obliviate.service.worker import Worker, WorkerConfig
from service_helpers import check_ledger, free_port, start_server, tiny_deployment

CLIENTS, EACH, KILL_AFTER = 8, 40, 60  # SIGKILL once 60 requests have been answered


@pytest.mark.slow
def test_sigkill_of_the_server_loses_no_acknowledged_request(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    engine = open_ledger(url)
    dep = tiny_deployment(engine, tmp_path / "art")
    port = free_port()
    path = f"/v1/deployments/{dep.deployment_id}/deletions"
    headers = {"Authorization": f"Bearer {dep.token}", "Content-Type": "application/json"}
    acked: dict[str, str] = {}  # idempotency key -> request id
    lock, answered = threading.Lock(), threading.Event()

    def post(key: str, subject: str) -> tuple[int, str]:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            c.request("POST", path, body=json.dumps({"subject": subject,
                                                     "idempotency_key": key}),
                      headers=headers)
            r = c.getresponse()
            return r.status, str(json.loads(r.read()).get("request_id", ""))
        finally:
            c.close()

    def client(k: int) -> list[str]:
        unanswered = []
        for j in range(EACH):
            key = f"c{k}-{j}"
            try:
                status, rid = post(key, f"user-{(k * EACH + j) % 200}")
            except (OSError, http.client.HTTPException):
                unanswered.append(key)  # the server died before answering
                continue
            assert status == 202
            with lock:
                acked[key] = rid
                if len(acked) >= KILL_AFTER:
                    answered.set()
        return unanswered

    server = start_server(url, port, "--rate", "0")
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = [pool.submit(client, k) for k in range(CLIENTS)]
            assert answered.wait(60), "the server answered too few requests"
            server.send_signal(signal.SIGKILL)  # mid-stream: some requests are in flight
            server.wait(10)
            unanswered = [key for f in futures for key in f.result()]
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
        server.stderr.close()  # type: ignore[union-attr]
    killed_at = len(acked)
    assert unanswered, "the kill came after every request was answered"
    with Session(engine) as s:
        rows = {q.idempotency_key: q.id for q in s.execute(select(DeletionRequest)).scalars()}
        committed = s.execute(select(AuditEntry.object_id).where(
            AuditEntry.event == "request.committed")).scalars().all()
    for key, rid in acked.items():
        assert rows.get(key) == rid, f"acknowledged {key} -> {rid} not in the ledger"
    assert sorted(committed) == sorted(rows.values())  # no row without its entry, or reverse
    silently_committed = {k: rows[k] for k in unanswered if k in rows}
    # Restart; the clients retry what was never answered, with the same keys.
    server = start_server(url, port, "--rate", "0")
    try:
        for key in unanswered:
            k, j = (int(x) for x in key[1:].split("-"))
            status, rid = post(key, f"user-{(k * EACH + j) % 200}")
            assert status == 202
            if key in silently_committed:
                assert rid == silently_committed[key]  # the same request, not a second one
            acked[key] = rid
    finally:
        server.kill()
        server.wait(10)
        server.stderr.close()  # type: ignore[union-attr]
    assert len(set(acked.values())) == CLIENTS * EACH
    start = time.perf_counter()
    Worker(engine, WorkerConfig(poll=0.05)).run(until_idle=True)
    stats = check_ledger(engine, set(acked.values()))
    assert stats["requests"] == CLIENTS * EACH
    print(f"\nserver kill: {killed_at} answered before SIGKILL, {len(unanswered)} unanswered "
          f"({len(silently_committed)} of them had committed), all honoured in "
          f"{time.perf_counter() - start:.1f} s; ledger {stats}")
