"""Time from a deletion request to its deployed model version (issue 14's bar), p50/p99,
for the exact policy (SISA, 5 shards) and the approximate policy (one method), on digits,
against retraining the deployment's model from scratch on the retained rows.

One request at a time (no coalescing), each a new subject, through the real API
(TestClient) and an in-process worker polling every 10 ms; latency is the ledger's own
``updated - created`` of the request when it reaches ``deployed``.

    PYTHONPATH=src python benchmarks/service_latency.py [--requests 20] [--method ft]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from obliviate.service.api import create_app
from obliviate.service.deploy import deploy
from obliviate.service.ledger import DeletionRequest, open_ledger
from obliviate.service.worker import Worker, WorkerConfig


def run(policy: str, n: int, method: str, tmp: Path) -> dict[str, float]:
    engine = open_ledger(f"sqlite:///{tmp}/{policy}.db")
    t = time.perf_counter()
    kw: dict[str, object] = ({"train": "sisa:shards=5"} if policy == "exact" else
                             {"train": None, "method": method, "budget": 10})
    reg = deploy(engine, root=tmp / "art", scenario="digits", policy=policy,
                 **kw)  # type: ignore[arg-type]
    deploy_s = time.perf_counter() - t
    worker = Worker(engine, WorkerConfig(poll=0.01, backoff=0))
    lat = []
    with TestClient(create_app(engine, limit=None)) as c:
        for k in range(n):
            r = c.post(f"/v1/deployments/{reg.deployment_id}/deletions",
                       json={"subject": f"user-{k}", "idempotency_key": f"b{k}"},
                       headers={"Authorization": f"Bearer {reg.token}"})
            rid = r.json()["request_id"]
            worker.run(until_idle=True)
            with Session(engine) as s:
                q = s.get(DeletionRequest, rid)
                assert q is not None and q.state == "deployed", (q and q.state, q and q.error)
                lat.append(q.updated - q.created)
    a = np.array(lat)
    return {"p50_s": float(np.percentile(a, 50)), "p99_s": float(np.percentile(a, 99)),
            "mean_s": float(a.mean()), "requests": n, "deploy_s": deploy_s}


def full_retrain_s() -> float:
    """One model (the approximate policy's mlp, the scenario's recipe) on every row."""
    from obliviate.service import approximate as ap
    from obliviate.service.exact import set_threads

    set_threads()
    d = ap.scenario_data(ap.ApproxDeployment())
    t = time.perf_counter()
    ap.train_full(d, d.train_split(), 0)
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=20)
    p.add_argument("--method", default="ft")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        out = {"exact (SISA 5 shards)": run("exact", args.requests, args.method, Path(d)),
               f"approximate ({args.method})": run("approximate", args.requests, args.method,
                                                   Path(d)),
               "full retrain (one mlp)": {"seconds": full_retrain_s()}}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
