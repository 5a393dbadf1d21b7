"""The exact policy on an S3T deployment (``deploy --train s3t:...``): deletions through the
API and the worker switch layers off (no training) or retrain a shard with no usable layer
left; a worker in a new process continues from the version file; the served model is bit
for bit S3T trained from scratch on the retained rows."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from obliviate.cli import main
from obliviate.guaranteed.s3t import S3T, S3TConfig
from obliviate.guaranteed.sisa import layout
from obliviate.service import data as rows_of
from obliviate.service.api import create_app
from obliviate.service.deploy import deploy
from obliviate.service.exact import ExactDeployment
from obliviate.service.exact_s3t import load_version
from obliviate.service.ledger import (
    AuditEntry,
    Deployment,
    Job,
    ManifestRow,
    ModelVersion,
    open_ledger,
)
from obliviate.service.worker import Worker, WorkerConfig
from service_helpers import check_ledger

FIELDS = {"orders": 2, "shards": 3, "slices": 3, "rank": 4, "width": 64, "epochs_per_layer": 2}
TRAIN = "s3t:" + ",".join(f"{k}={v}" for k, v in FIELDS.items())


def _sha(ids: list[int]) -> str:
    return hashlib.sha256(np.sort(np.asarray(ids, dtype=np.int64)).tobytes()).hexdigest()


def test_s3t_deployment_deactivates_retrains_restarts_and_matches_scratch(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Orders [0,1,2] and [1,2,0] of 3 slices. Request 1 deletes a row of (shard 0, slice 1)
    and one of (shard 1, slice 2): shard 0 loses layers 1, 2 of order 0 and all of order 1
    (slice 1 is its first) and serves order 0 with 1 layer; shard 1 loses layer 2 of order 0
    and layers 1, 2 of order 1 and serves order 0 with 2 layers; nothing is trained.
    Request 2, honoured by a worker in a new process: a row of (shard 0, slice 0) leaves
    shard 0 no usable layer (slices {0, 1} deleted: order 0 starts with 0, order 1 with 1),
    so shard 0 is retrained; a row of (shard 2, slice 0) costs shard 2 all of order 0 and
    layer 2 of order 1, which serves 2 layers. Served: {0: (0, 3), 1: (0, 2), 2: (1, 2)}."""
    url = f"sqlite:///{tmp_path}/l.db"
    assert main(["--home", str(tmp_path), "deploy", "--db", url, "--train", TRAIN,
                 "--policy", "exact", "--root", str(tmp_path / "art")]) == 0
    out = capsys.readouterr().out
    dep_id = out.split("deployment: ")[1].split()[0]
    token = out.split("admin token: ")[1].split()[0]
    engine = open_ledger(url)
    with Session(engine) as s:
        ids = np.array(sorted(s.execute(select(ManifestRow.row_id).where(
            ManifestRow.deployment_id == dep_id)).scalars()), dtype=np.int64)
        dep = s.get(Deployment, dep_id)
        assert dep is not None
    shard, slc = layout(ids, 3, 3, 0)

    def row(s: int, j: int) -> int:
        return int(ids[np.nonzero((shard == s) & (slc == j))[0][0]])

    first, second = [row(0, 1), row(1, 2)], [row(0, 0), row(2, 0)]
    h = {"Authorization": f"Bearer {token}"}
    base = f"/v1/deployments/{dep_id}"
    with TestClient(create_app(engine)) as c:
        r1 = c.post(f"{base}/deletions", json={"row_ids": first, "idempotency_key": "a"},
                    headers=h).json()["request_id"]
        Worker(engine, WorkerConfig(poll=0.05, backoff=0, max_attempts=1)).run(until_idle=True)
        v1 = c.get(f"{base}/deletions/{r1}/verification", headers=h).json()
        r2 = c.post(f"{base}/deletions", json={"row_ids": second, "idempotency_key": "b"},
                    headers=h).json()["request_id"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        done = subprocess.run([sys.executable, "-c", "from obliviate.cli import run_main; "
                               "run_main()", "worker", "--db", url, "--until-idle", "--poll",
                               "0.05", "--max-attempts", "1"], env=env, capture_output=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr.decode()
        v2 = c.get(f"{base}/deletions/{r2}/verification", headers=h).json()
    for v in (v1, v2):
        assert v["guarantee"] == "exact" and v["method"] == "s3t" and v["passed"], v["checks"]
    assert (v1["version"], v2["version"]) == (2, 3)
    assert v1["retrained_shards"] == [] and v1["untouched_shards"] == [2]
    assert v1["deactivated_layers"] == {"0": {"0": [1, 2], "1": [0, 1, 2]},
                                        "1": {"0": [2], "1": [1, 2]}}
    assert v1["served"] == {"0": {"order": 0, "layers": 1}, "1": {"order": 0, "layers": 2},
                            "2": {"order": 0, "layers": 3}}
    assert v2["retrained_shards"] == [0] and v2["untouched_shards"] == [1]
    assert v2["deactivated_layers"]["2"] == {"0": [0, 1, 2], "1": [2]}
    # Shard 1's deactivation from request 1 survived the restart: the new process
    # continued from version 2's file, not from the deployment's first model.
    assert v2["served"] == {"0": {"order": 0, "layers": 3}, "1": {"order": 0, "layers": 2},
                            "2": {"order": 1, "layers": 2}}
    # Row-set hashes: each shard's rows are the layout's minus every deleted row.
    gone = set(first + second)
    for s in range(3):
        mine = [int(i) for i in ids[shard == s] if int(i) not in gone]
        assert v2["shards"][str(s)]["rows_sha256"] == _sha(mine)
        assert v2["shards"][str(s)]["rows"] == len(mine)
    o = [[0, 1, 2], [1, 2, 0]][1]  # shard 2 serves order 1: layers on {1}, {1, 2}
    assert v2["shards"]["2"]["served_layer_rows_sha256"] == [
        _sha([int(i) for i in ids[(shard == 2) & np.isin(slc, o[:n])] if int(i) not in gone])
        for n in (1, 2)]
    assert v2["rows"]["row_shards"] == {str(second[0]): 0, str(second[1]): 2}
    check_ledger(engine, {r1, r2})
    with Session(engine) as s:
        promoted = [json.loads(p) for p in s.execute(select(AuditEntry.payload).where(
            AuditEntry.event == "version.promoted")).scalars()]
        versions = {v.number: v for v in s.execute(select(ModelVersion)).scalars()}
    assert [p.get("method") for p in promoted[1:]] == ["s3t", "s3t"]
    assert promoted[2]["shards"] == {k: e["rows_sha256"] for k, e in v2["shards"].items()}
    # The served model against S3T trained from scratch on the retained rows, same seed.
    cfg = ExactDeployment.from_json(dep.config)
    data, _ = rows_of.build(cfg)
    train = data.train_split()
    served = load_version(Path(versions[3].path), versions[3].sha256, train)
    keep = np.nonzero(~np.isin(train.ids, list(gone)))[0]
    scratch = S3T(train.subset(keep), S3TConfig(**FIELDS), data.n_classes, seed=0)
    scratch.fit()
    sel = served.selection()
    assert sel == {0: (0, 3), 1: (0, 2), 2: (1, 2)}
    x = data.test.inputs
    assert torch.equal(served.scores(x), scratch.scores(x, sel))
    original = load_version(Path(versions[1].path), versions[1].sha256, train)
    assert not torch.equal(original.scores(x), served.scores(x))


def test_s3t_deploy_refuses_bad_training_specs(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/l.db"
    for train, says in (("s3t:orders=5", "orders=5 (want <= slices=4"),
                        ("s3t:depth=2", "depth"),
                        ("acu", "trains one of sisa, s3t")):
        assert main(["--home", str(tmp_path), "deploy", "--db", url, "--train", train,
                     "--policy", "exact"]) == 2
        err = capsys.readouterr().err.strip()
        assert says in err and len(err.splitlines()) == 1, err
    with Session(open_ledger(url)) as s:
        assert s.scalar(select(Deployment.id)) is None


def test_s3t_retrain_killed_mid_job_is_honoured_once_by_the_next_worker(
        tmp_path: Path) -> None:
    """One request deleting rows of slices 0 and 1 of shard 0 leaves shard 0 no usable layer
    (module docstring of the first test): its retrain is killed (SIGKILL) just after the new
    stack's checkpoint is written; once the lease expires, another worker reclaims the job,
    loads that checkpoint, and deploys one version, which matches S3T from scratch."""
    url = f"sqlite:///{tmp_path}/l.db"
    engine = open_ledger(url)
    reg = deploy(engine, root=tmp_path / "art", scenario="digits", train=TRAIN,
                 policy="exact")
    with Session(engine) as s:
        ids = np.array(sorted(s.execute(select(ManifestRow.row_id)).scalars()), dtype=np.int64)
    shard, slc = layout(ids, 3, 3, 0)
    rows = [int(ids[np.nonzero((shard == 0) & (slc == j))[0][0]]) for j in (0, 1)]
    with TestClient(create_app(engine)) as c:
        req = c.post(f"/v1/deployments/{reg.deployment_id}/deletions",
                     json={"row_ids": rows, "idempotency_key": "k"},
                     headers={"Authorization": f"Bearer {reg.token}"}).json()["request_id"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path),
           "OBLIVIATE_CRASH_AT": "unlearning.checkpoint"}
    killed = subprocess.run([sys.executable, "-c", "from obliviate.cli import run_main; "
                             "run_main()", "worker", "--db", url, "--until-idle", "--poll",
                             "0.05", "--lease", "1"], env=env, capture_output=True, timeout=300)
    assert killed.returncode == -9, killed.stderr.decode()
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(ModelVersion)) == 1
    time.sleep(1.1)  # the dead worker's lease expires
    Worker(engine, WorkerConfig(poll=0.05, lease=5, backoff=0)).run(until_idle=True)
    check_ledger(engine, {req})
    with Session(engine) as s:
        job = s.execute(select(Job)).scalar_one()
        v2 = s.get(ModelVersion, (reg.deployment_id, 2))
        dep = s.get(Deployment, reg.deployment_id)
    assert job.attempts == 2 and v2 is not None and dep is not None
    report = json.loads(v2.verification)
    assert report["retrained_shards"] == [0] and report["passed"]
    data, _ = rows_of.build(ExactDeployment.from_json(dep.config))
    train = data.train_split()
    served = load_version(Path(v2.path), v2.sha256, train)
    # 3 shards x 2 orders x 3 layers trained at deploy; the retry trained none (it loaded
    # the killed attempt's checkpoint of shard 0).
    assert served.layers_trained == 18 and served.retrains == 1
    scratch = S3T(train.subset(np.nonzero(~np.isin(train.ids, rows))[0]), S3TConfig(**FIELDS),
                  data.n_classes, seed=0)
    scratch.fit()
    x = data.test.inputs
    assert torch.equal(served.scores(x), scratch.scores(x, served.selection()))
