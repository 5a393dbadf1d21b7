"""Load (issue 14, scaled to a shared CI machine): ``obliviate serve`` on loopback, 20
concurrent clients x 10 requests; every one acknowledged, committed once, then honoured
in exactly one version. Throughput and acknowledgement latency are printed, not asserted."""

from __future__ import annotations

import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from obliviate.service.ledger import open_ledger
from obliviate.service.worker import Worker, WorkerConfig
from service_helpers import check_ledger, free_port, start_server, tiny_deployment

CLIENTS, EACH = 20, 10


@pytest.mark.slow
def test_concurrent_clients_all_committed_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    engine = open_ledger(url)
    dep = tiny_deployment(engine, tmp_path / "art")
    port = free_port()
    server = start_server(url, port, "--rate", "0")  # one token, 300 requests at once
    try:
        path = f"/v1/deployments/{dep.deployment_id}/deletions"
        headers = {"Authorization": f"Bearer {dep.token}", "Content-Type": "application/json"}

        def client(k: int) -> list[tuple[str, float, int]]:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            out = []
            try:
                for j in range(EACH):
                    body = json.dumps({"subject": f"user-{(k * EACH + j) % 200}",
                                       "idempotency_key": f"c{k}-{j}"})
                    t = time.perf_counter()
                    c.request("POST", path, body=body, headers=headers)
                    r = c.getresponse()
                    data = json.loads(r.read())
                    out.append((data.get("request_id", ""), time.perf_counter() - t, r.status))
                    if k % 2 == 0:  # half the clients retry: the same key, the same request
                        c.request("POST", path, body=body, headers=headers)
                        r = c.getresponse()
                        assert json.loads(r.read())["request_id"] == out[-1][0]
            finally:
                c.close()
            return out

        start = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = [x for xs in pool.map(client, range(CLIENTS)) for x in xs]
        wall = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(10)
        server.stderr.close()  # type: ignore[union-attr]
    assert all(status == 202 for _, _, status in results), {s for _, _, s in results}
    ids = {rid for rid, _, _ in results}
    assert len(ids) == CLIENTS * EACH  # distinct keys -> distinct requests
    lat = np.array([t for _, t, _ in results]) * 1000
    print(f"\nload: {len(results)} requests from {CLIENTS} clients in {wall:.2f} s = "
          f"{len(results) / wall:.0f} req/s; ack latency p50 {np.percentile(lat, 50):.1f} ms, "
          f"p99 {np.percentile(lat, 99):.1f} ms")
    start = time.perf_counter()
    Worker(engine, WorkerConfig(poll=0.05)).run(until_idle=True)
    print(f"load: honoured in {time.perf_counter() - start:.2f} s")
    stats = check_ledger(engine, ids)
    assert stats["requests"] == CLIENTS * EACH
