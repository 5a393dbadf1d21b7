"""Load at issue 14's size: ``obliviate serve`` on loopback, 100 concurrent clients (a
thread and a connection each) submitting 1,000 deletion requests, half of them also retrying
each request with its key, while an ``obliviate worker`` process honours them as they
arrive. Every one is acknowledged, committed once (a retry returns the same id), and
reflected in exactly one deployed version (``check_ledger``). Sustained requests/s and the
p50/p99 time to acknowledgement are printed, not asserted (the machine is shared).

Each request names one training row of its own (digits has 1,258), so every version
removes rows of its own."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from obliviate.service.ledger import DeletionRequest, ManifestRow, ModelVersion, open_ledger
from service_helpers import check_ledger, free_port, start_server, tiny_deployment

CLIENTS, EACH = 100, 10


@pytest.mark.slow
def test_100_clients_1000_requests_each_committed_and_deployed_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    engine = open_ledger(url)
    dep = tiny_deployment(engine, tmp_path / "art")
    with Session(engine) as s:
        rows = sorted(s.execute(select(ManifestRow.row_id)).scalars())
    assert len(rows) >= CLIENTS * EACH
    port = free_port()
    server = start_server(url, port, "--rate", "0")  # one token, 1,500 requests at once
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    worker = subprocess.Popen([sys.executable, "-c", "from obliviate.cli import run_main; "
                               "run_main()", "--quiet", "worker", "--db", url, "--poll", "0.2"],
                              env=env, stderr=subprocess.DEVNULL)
    go = threading.Barrier(CLIENTS)
    try:
        path = f"/v1/deployments/{dep.deployment_id}/deletions"
        headers = {"Authorization": f"Bearer {dep.token}", "Content-Type": "application/json"}

        def client(k: int) -> list[tuple[str, float, int, float]]:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            out = []
            go.wait()  # all 100 connections start together
            try:
                for j in range(EACH):
                    body = json.dumps({"row_ids": [rows[k * EACH + j]],
                                       "idempotency_key": f"c{k}-{j}"})
                    t = time.perf_counter()
                    c.request("POST", path, body=body, headers=headers)
                    r = c.getresponse()
                    data = json.loads(r.read())
                    done = time.perf_counter()
                    out.append((data.get("request_id", ""), done - t, r.status, done))
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
        wall = max(x[3] for x in results) - start
        assert all(status == 202 for _, _, status, _ in results), \
            {s for _, _, s, _ in results}
        ids = {rid for rid, _, _, _ in results}
        assert len(ids) == CLIENTS * EACH  # distinct keys -> distinct requests
        deadline = time.time() + 120
        while True:  # the worker catches up
            with Session(engine) as s:
                open_ = s.scalar(select(func.count()).select_from(DeletionRequest).where(
                    DeletionRequest.state != "deployed"))
            if not open_:
                break
            assert time.time() < deadline, f"{open_} requests not deployed after 120 s"
            assert worker.poll() is None, "the worker died"
            time.sleep(0.2)
        honoured = time.perf_counter() - start
    finally:
        for p in (worker, server):
            p.terminate()
            p.wait(10)
        server.stderr.close()  # type: ignore[union-attr]
    stats = check_ledger(engine, ids)
    assert stats["requests"] == CLIENTS * EACH
    with Session(engine) as s:
        versions = s.scalar(select(func.count()).select_from(ModelVersion)) or 0
    lat = np.array([t for _, t, _, _ in results]) * 1000
    posts = CLIENTS * EACH + (CLIENTS // 2) * EACH
    print(f"\nload: {CLIENTS * EACH} requests (+{posts - CLIENTS * EACH} retries) from "
          f"{CLIENTS} clients in {wall:.1f} s = {posts / wall:.0f} POST/s sustained; ack "
          f"latency p50 {np.percentile(lat, 50):.0f} ms, p99 {np.percentile(lat, 99):.0f} ms; "
          f"all deployed after {honoured:.1f} s in {versions - 1} new versions")
