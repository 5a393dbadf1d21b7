"""Time from a deletion request to its deployed model version (issue 14's bar), p50/p99,
for the exact policy (SISA, 5 shards) and the approximate policy (one method), on digits
and on a user CSV, against retraining the deployment's model from scratch on the retained
rows.

The user CSV is scikit-learn's bundled breast-cancer table (569 rows, 30 features, label
``diagnosis``) written out by this script with a synthetic ``patient`` column: a seeded
permutation of the rows, three rows per patient (190 patients). It goes through
``obliviate deploy --data ... --label diagnosis --subject-column patient``'s code path.

One request at a time (no coalescing), each a new subject, through the real API
(TestClient) and an in-process worker polling every 10 ms; latency is the ledger's own
``updated - created`` of the request when it reaches ``deployed``. A request whose
verification fails is retried by the worker with another seed (its latency includes the
retries) and is parked after 5 attempts: parked requests are counted, not timed.

    PYTHONPATH=src python benchmarks/service_latency.py [--requests 20] [--method ft]
        [--seeds 0,1,2] [--data digits,csv]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from obliviate.service.api import create_app
from obliviate.service.deploy import deploy
from obliviate.service.ledger import DeletionRequest, Job, ManifestRow, open_ledger
from obliviate.service.worker import Worker, WorkerConfig


def write_csv(path: Path) -> Path:
    """breast cancer + a synthetic ``patient`` column (module docstring)."""
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    patient = np.empty(len(y), dtype=np.int64)
    patient[order] = np.arange(len(y)) // 3
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["patient", *[f"x{j}" for j in range(x.shape[1])], "diagnosis"])
        for k in range(len(y)):
            w.writerow([f"patient-{patient[k]:03d}", *x[k], "malignant" if y[k] == 0
                        else "benign"])
    return path


def source_kw(source: str, tmp: Path) -> dict[str, Any]:
    if source == "digits":
        return {"scenario": "digits"}
    return {"scenario": "digits", "data": str(write_csv(tmp / "breast_cancer.csv")),
            "label": "diagnosis", "subject_column": "patient"}


def run(policy: str, n: int, method: str, tmp: Path, source: str, seed: int,
        ) -> dict[str, Any]:
    engine = open_ledger(f"sqlite:///{tmp}/{policy}-{source}-{seed}.db")
    t = time.perf_counter()
    kw: dict[str, Any] = ({"train": "sisa:shards=5"} if policy == "exact" else
                          {"train": None, "method": method, "budget": 10})
    reg = deploy(engine, root=tmp / "art", policy=policy, seed=seed,
                 **kw, **source_kw(source, tmp))
    deploy_s = time.perf_counter() - t
    with Session(engine) as s:
        subjects = sorted(set(s.execute(select(ManifestRow.subject)).scalars()))
    chosen = np.random.default_rng(seed).choice(len(subjects), n, replace=False)
    worker = Worker(engine, WorkerConfig(poll=0.01, backoff=0))
    lat, parked, retried = [], 0, 0
    with TestClient(create_app(engine, limit=None)) as c:
        for k, i in enumerate(chosen.tolist()):
            r = c.post(f"/v1/deployments/{reg.deployment_id}/deletions",
                       json={"subject": subjects[i], "idempotency_key": f"b{k}"},
                       headers={"Authorization": f"Bearer {reg.token}"})
            rid = r.json()["request_id"]
            worker.run(until_idle=True)
            with Session(engine) as s:
                q = s.get(DeletionRequest, rid)
                assert q is not None and q.state in ("deployed", "parked"), (q and q.state)
                job = s.get(Job, q.job_id)
                retried += int(job is not None and job.attempts > 1)
                if q.state == "parked":
                    parked += 1
                else:
                    lat.append(q.updated - q.created)
    a = np.array(lat) if lat else np.array([np.nan])
    return {"latencies": lat, "parked": parked, "retried": retried, "deploy_s": deploy_s,
            "p50_s": float(np.percentile(a, 50)), "p99_s": float(np.percentile(a, 99))}


def full_retrain_s(source: str, tmp: Path, seed: int) -> float:
    """One model (the approximate policy's mlp, the scenario's recipe) on every training
    row: what retraining from scratch after a deletion costs without either policy."""
    from obliviate.service import approximate as ap
    from obliviate.service import data as rows_of
    from obliviate.service.exact import set_threads

    set_threads()
    kw = source_kw(source, tmp)
    if "data" in kw:
        kw["data"], kw["data_sha256"] = rows_of.pin(kw["data"])
    d = ap.scenario_data(ap.ApproxDeployment(seed=seed, **kw))
    t = time.perf_counter()
    ap.train_full(d, d.train_split(), seed)
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=20)
    p.add_argument("--method", default="ft")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--data", default="digits,csv")
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    out: dict[str, Any] = {"seeds": seeds, "requests_per_seed": args.requests}
    with tempfile.TemporaryDirectory() as d:
        for source in args.data.split(","):
            for policy in ("exact", "approximate"):
                runs = [run(policy, args.requests, args.method, Path(d), source, s)
                        for s in seeds]
                lat = np.array([x for r in runs for x in r["latencies"]])
                name = "exact (SISA 5 shards)" if policy == "exact" else \
                    f"approximate ({args.method})"
                out[f"{source}: {name}"] = {
                    "p50_s": round(float(np.percentile(lat, 50)), 3),
                    "p99_s": round(float(np.percentile(lat, 99)), 3),
                    "slowest_s": sorted(round(float(x), 2) for x in lat)[-3:],
                    "timed": len(lat), "parked": sum(r["parked"] for r in runs),
                    "retried": sum(r["retried"] for r in runs),
                    "deploy_s": [round(r["deploy_s"], 2) for r in runs]}
            out[f"{source}: full retrain (one mlp)"] = {
                "seconds": [round(full_retrain_s(source, Path(d), s), 2) for s in seeds]}
            print(json.dumps(out, indent=1), flush=True)


if __name__ == "__main__":
    main()
