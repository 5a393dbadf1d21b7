"""The approximate policy (issue 14): a deployment trained once, deletions honoured with a
named method, each verified against never-trained holdout rows with pass/fail against the
deployment's thresholds; a failing verification is never promoted (the job is retried,
then parked); after ``budget`` approximate requests a full retrain is scheduled and run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from obliviate.cli import main
from obliviate.service import audit
from obliviate.service.api import create_app
from obliviate.service.approximate import Thresholds, checks
from obliviate.service.deploy import Registered, deploy
from obliviate.service.ledger import AuditEntry, ModelVersion, open_ledger
from obliviate.service.worker import Worker, WorkerConfig
from service_helpers import check_ledger


def test_checks_against_numbers_worked_by_hand() -> None:
    """forget losses {0.1, 0.2} all below held-out {0.3, 0.4, 0.5}: the loss-threshold
    attack ranks every forget row above every held-out row, AUC = 6/6 = 1; KS statistic =
    1 (the ECDFs are 1 and 0 at 0.25) with exact two-sided p = 2 / C(5, 2) = 0.2 (two of the
    ten arrangements are this extreme); accuracy gap = 2/2 - 2/3 = 1/3."""
    got = checks(np.array([0.1, 0.2]), np.array([1.0, 1.0]), np.array([0.3, 0.4, 0.5]),
                 np.array([1.0, 0.0, 1.0]), Thresholds(mia_auc_max=0.99, loss_ks_p_min=0.2,
                                                       forget_acc_gap_max=0.34))
    m = got["metrics"]
    assert m["mia_auc"] == 1.0 and m["loss_ks_statistic"] == 1.0
    assert m["loss_ks_p"] == pytest.approx(0.2) and m["forget_acc_gap"] == pytest.approx(1 / 3)
    assert got["checks"] == {"mia_auc_at_most_max": False,
                             "loss_distribution_not_distinguishable": True,
                             "forget_accuracy_gap_at_most_max": True}
    # Identical distributions: chance AUC, KS statistic 0 (p = 1), no gap.
    same = checks(np.array([0.2, 0.4]), np.array([1.0, 0.0]), np.array([0.2, 0.4]),
                  np.array([1.0, 0.0]), Thresholds())
    assert same["metrics"]["mia_auc"] == 0.5 and same["metrics"]["loss_ks_p"] == 1.0
    assert all(same["checks"].values())
    with pytest.raises(ValueError, match="forget"):
        checks(np.array([]), np.array([]), np.array([0.1]), np.array([1.0]), Thresholds())


def _deploy(tmp: Path, **kw: Any) -> tuple[Any, Registered]:
    engine = open_ledger(f"sqlite:///{tmp}/ledger.db")
    return engine, deploy(engine, root=tmp / "art", scenario="digits", train=None,
                          policy="approximate", epochs=3, method="ft",
                          method_set=["epochs=2"], **kw)


def _submit(c: TestClient, reg: Registered, subject: str, key: str) -> str:
    r = c.post(f"/v1/deployments/{reg.deployment_id}/deletions",
               json={"subject": subject, "idempotency_key": key},
               headers={"Authorization": f"Bearer {reg.token}"})
    assert r.status_code == 202, r.text
    return str(r.json()["request_id"])


def test_approximate_deletions_verified_then_a_retrain_after_the_budget(tmp_path: Path,
                                                                         ) -> None:
    # The 3-epoch test model knows its training rows ~13 points better than unseen ones;
    # a wider accuracy gap lets this test be about the lifecycle, not the threshold.
    engine, reg = _deploy(tmp_path, budget=2, thresholds="forget_acc_gap_max=0.3")
    worker = Worker(engine, WorkerConfig(poll=0.05, backoff=0, max_attempts=1))
    acked = []
    with TestClient(create_app(engine)) as c:
        for k in range(2):  # two jobs, one request each: the second spends the budget
            acked.append(_submit(c, reg, f"user-{k}", f"a{k}"))
            worker.run(until_idle=True)
        h = {"Authorization": f"Bearer {reg.token}"}
        base = f"/v1/deployments/{reg.deployment_id}"
        rep = c.get(f"{base}/deletions/{acked[0]}/verification", headers=h).json()
        vs = c.get(f"{base}/versions", headers=h).json()
    assert rep["guarantee"] == "approximate" and rep["method"] == "ft" and rep["passed"]
    assert rep["metrics"]["forget_rows"] == len(rep["rows"]["rows"]) > 0
    assert rep["metrics"]["heldout_rows"] > 100 and set(rep["checks"]) == {
        "mia_auc_at_most_max", "loss_distribution_not_distinguishable",
        "forget_accuracy_gap_at_most_max"}
    assert rep["thresholds"] == {"mia_auc_max": 0.7, "loss_ks_p_min": 0.01,
                                 "forget_acc_gap_max": 0.3}
    assert [(v["number"], v["method"]) for v in vs["versions"]] == [
        (1, "train"), (2, "ft"), (3, "ft"), (4, "retrain")]
    assert vs["current"] == 4 and vs["versions"][3]["requests"] == []
    with Session(engine) as s:
        v4 = s.get(ModelVersion, (reg.deployment_id, 4))
        events = s.execute(select(AuditEntry.event)).scalars().all()
        s_rows = dict(s.execute(select(ModelVersion.number, ModelVersion.rows_removed)).all())
    assert v4 is not None
    retrain = json.loads(v4.verification)
    assert retrain["guarantee"] == "exact" and retrain["checks"] == {
        "deleted_rows_absent_from_training_rows": True}
    removed = [r for v in (2, 3) for r in json.loads(s_rows[v])]
    assert retrain["deleted_rows"] == len(removed) == len(set(removed))
    assert retrain["trained_rows"] + len(removed) == reg.rows
    assert events.count("retrain.scheduled") == 1
    check_ledger(engine, set(acked))


def test_failing_verification_is_not_promoted(tmp_path: Path) -> None:
    """A threshold no model can meet (AUC <= 0): each attempt fails its check, the version
    is never promoted, the request ends parked with the failed check named, and every
    attempt's report is in the audit log."""
    engine, reg = _deploy(tmp_path, thresholds="mia_auc_max=0")
    with TestClient(create_app(engine)) as c:
        rid = _submit(c, reg, "user-3", "f1")
        Worker(engine, WorkerConfig(poll=0.05, backoff=0, max_attempts=2)).run(
            until_idle=True)
        got = c.get(f"/v1/deployments/{reg.deployment_id}/deletions/{rid}",
                    headers={"Authorization": f"Bearer {reg.token}"}).json()
    assert got["state"] == "parked" and "mia_auc_at_most_max" in got["error"], got
    assert got["version"] is None
    with Session(engine) as s:
        versions = s.execute(select(ModelVersion.number)).scalars().all()
        failed = [json.loads(p) for p in s.execute(select(AuditEntry.payload).where(
            AuditEntry.event.in_(("job.failed", "job.parked")))).scalars()]
    assert versions == [1]
    assert len(failed) == 2 and all(not f["verification"]["passed"] for f in failed)
    assert failed[0]["verification"]["seed"] != failed[1]["verification"]["seed"]  # a retry
    assert audit.verify(engine).ok


@pytest.mark.parametrize(("argv", "names"), [
    (["--policy", "approximate"], "needs --method NAME; valid: ft"),
    (["--policy", "approximate", "--method", "bogus"], "unknown method 'bogus'"),
    (["--policy", "approximate", "--method", "npo"], "does not support"),
    (["--policy", "approximate", "--method", "ft", "--set", "bogus=1"], "no field 'bogus'"),
    (["--policy", "approximate", "--method", "ft", "--thresholds", "mia=1"], "no field 'mia'"),
    (["--policy", "approximate", "--method", "ft", "--thresholds", "mia_auc_max=2"],
     "mia_auc_max=2"),
    (["--policy", "approximate", "--method", "ft", "--budget", "0"], "budget=0"),
    (["--policy", "approximate", "--method", "ft", "--train", "sisa:shards=2"], "'full'"),
    (["--policy", "exact", "--method", "ft"], "only for --policy approximate"),
    (["--policy", "other"], "valid policies are exact"),
])
def test_deploy_approximate_fails_in_one_line(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              argv: list[str], names: str) -> None:
    code = main(["--home", str(tmp_path), "deploy", "--db", f"sqlite:///{tmp_path}/d.db",
                 *argv])
    err = capsys.readouterr().err
    assert code == 2 and names in err and err.count("\n") == 1, err
