"""A deployment on the user's own CSV with a subject column (``obliviate deploy --data
t.csv --label COL --subject-column COL``): the manifest names each training row's subject as
the file does, a deletion by subject removes exactly that subject's training rows (computed
here from the file, not by the service), the subject column is not a feature, and every bad
input is a one-line error. The CSV is scikit-learn's bundled wine data (178 rows, 13
features) with a synthetic ``customer`` column of numeric-looking ids."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.datasets import load_wine
from sqlalchemy import select
from sqlalchemy.orm import Session

from obliviate.cli import main
from obliviate.errors import DataError, ObliviateError
from obliviate.service.api import create_app
from obliviate.service.deploy import deploy
from obliviate.service.ledger import DeletionRequest, Job, ManifestRow, ModelVersion, open_ledger
from obliviate.service.worker import Worker, WorkerConfig
from obliviate.tasks.classification.user import load_user_table
from service_helpers import check_ledger

TRAIN = "sisa:shards=3,slices=2"
LOOSE = "mia_auc_max=1,loss_ks_p_min=0,forget_acc_gap_max=1"  # plumbing, not the gate


def write_wine(path: Path, blank_at: int | None = None) -> list[str]:
    """wine as CSV, the subject column between features; row k belongs to customer
    ``10<k*7 mod 30>`` (numbers: the old reader would have taken them for a feature)."""
    x, y = load_wine(return_X_y=True)
    subjects = [str(1000 + (k * 7) % 30) for k in range(len(y))]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["alcohol", "customer", *[f"f{j}" for j in range(1, 13)], "class"])
        for k in range(len(y)):
            w.writerow([x[k, 0], "" if k == blank_at else subjects[k], *x[k, 1:],
                        f"cultivar{y[k]}"])
    return subjects


def test_reader_keeps_the_subject_column_out_of_the_features(tmp_path: Path) -> None:
    subjects = write_wine(tmp_path / "wine.csv")
    t = load_user_table(tmp_path / "wine.csv", "class", None, "customer")
    assert t.pool.x.shape == (178, 13) and t.subjects == subjects
    with pytest.raises(DataError, match="no subject column 'who'; columns: alcohol, customer"):
        load_user_table(tmp_path / "wine.csv", "class", None, "who")
    with pytest.raises(DataError, match="is also the label column"):
        load_user_table(tmp_path / "wine.csv", "class", None, "class")
    write_wine(tmp_path / "blank.csv", blank_at=4)
    with pytest.raises(DataError, match=r"line 6: the subject column 'customer' is empty"):
        load_user_table(tmp_path / "blank.csv", "class", None, "customer")
    np.savez(tmp_path / "w.npz", X=t.pool.x, y=t.pool.y)
    with pytest.raises(DataError, match="--subject-column is for CSV files"):
        load_user_table(tmp_path / "w.npz", None, None, "customer")


@pytest.mark.parametrize("policy", ["exact", "approximate"])
def test_deletion_by_subject_removes_exactly_its_rows(tmp_path: Path, policy: str) -> None:
    subjects = write_wine(tmp_path / "wine.csv")
    engine = open_ledger(f"sqlite:///{tmp_path}/ledger.db")
    kw: dict[str, object] = ({"train": TRAIN} if policy == "exact" else
                             {"train": None, "method": "ft", "thresholds": LOOSE})
    reg = deploy(engine, root=tmp_path / "art", scenario="digits", policy=policy, epochs=5,
                 data=str(tmp_path / "wine.csv"), label="class", subject_column="customer",
                 **kw)  # type: ignore[arg-type]
    with Session(engine) as s:
        manifest = {m.row_id: m.subject for m in s.execute(select(ManifestRow).where(
            ManifestRow.deployment_id == reg.deployment_id)).scalars()}
    # wine has no duplicate rows, so a row id is its 0-based data line in the file.
    assert 100 < len(manifest) < 178  # the training split only
    assert all(manifest[r] == subjects[r] for r in manifest)
    gone = {"1007", "1021"}
    expected = sorted(r for r in manifest if subjects[r] in gone)
    assert expected
    with TestClient(create_app(engine, limit=None)) as c:
        ids = []
        for k, who in enumerate(sorted(gone)):
            r = c.post(f"/v1/deployments/{reg.deployment_id}/deletions",
                       json={"subject": who, "idempotency_key": f"k{k}"},
                       headers={"Authorization": f"Bearer {reg.token}"})
            assert r.status_code == 202, r.text
            ids.append(r.json()["request_id"])
        r = c.post(f"/v1/deployments/{reg.deployment_id}/deletions",
                   json={"subject": "user-3", "idempotency_key": "x"},
                   headers={"Authorization": f"Bearer {reg.token}"})
        assert r.status_code == 422 and "user-3" in r.json()["error"]  # not this file's ids
    Worker(engine, WorkerConfig(poll=0.05, backoff=0)).run(until_idle=True)
    check_ledger(engine, set(ids))
    with Session(engine) as s:
        v = s.get(ModelVersion, (reg.deployment_id, 2))
        assert v is not None
        assert json.loads(v.rows_removed) == expected
        report = json.loads(v.verification)
        assert report["passed"], report["checks"]
        left = s.execute(select(ManifestRow.row_id).where(
            ManifestRow.deployment_id == reg.deployment_id,
            ManifestRow.deleted_in.is_(None))).scalars().all()
    assert sorted(left) == sorted(set(manifest) - set(expected))
    if policy == "exact":
        assert report["checks"]["shards_hold_exactly_the_retained_rows"]
    else:
        assert report["metrics"]["forget_rows"] == len(expected)


def test_bad_input_is_one_line_and_a_changed_file_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_wine(tmp_path / "wine.csv")
    url = f"sqlite:///{tmp_path}/ledger.db"
    base = ["--home", str(tmp_path / "home"), "deploy", "--db", url, "--train", TRAIN,
            "--epochs", "2"]
    cases = [
        (["--data", str(tmp_path / "wine.csv"), "--label", "class", "--subject-column",
          "who"], "no subject column 'who'; columns: alcohol, customer, f1"),
        (["--subject-column", "customer"], "--label and --subject-column name columns of "
                                           "your own --data CSV"),
        (["--data", str(tmp_path / "nope.csv"), "--label", "class"], "does not exist"),
    ]
    write_wine(tmp_path / "blank.csv", blank_at=0)
    cases.append((["--data", str(tmp_path / "blank.csv"), "--label", "class",
                   "--subject-column", "customer"], "line 2: the subject column 'customer' "
                                                    "is empty"))
    for extra, message in cases:
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err, err
    engine = open_ledger(url)
    with Session(engine) as s:
        assert s.execute(select(ManifestRow)).first() is None  # nothing half-registered
    reg = deploy(engine, root=tmp_path / "art", scenario="digits", policy="exact", train=TRAIN,
                 epochs=2, data=str(tmp_path / "wine.csv"), label="class",
                 subject_column="customer")
    with (tmp_path / "wine.csv").open("a") as f:  # the file changes after deploy
        f.write("1,1001," + ",".join(["1"] * 12) + ",cultivar0\n")
    with TestClient(create_app(engine, limit=None)) as c:
        r = c.post(f"/v1/deployments/{reg.deployment_id}/deletions",
                   json={"subject": "1001", "idempotency_key": "a"},
                   headers={"Authorization": f"Bearer {reg.token}"})
        assert r.status_code == 202
    Worker(engine, WorkerConfig(poll=0.05, backoff=0, max_attempts=1)).run(until_idle=True)
    with Session(engine) as s:
        q = s.get(DeletionRequest, r.json()["request_id"])
        job = s.execute(select(Job)).scalar_one()
    assert q is not None and q.state == "parked" and job.state == "parked"
    assert "wine.csv changed since deploy" in (q.error or "")
    with pytest.raises(ObliviateError, match="--label and --subject-column"):
        deploy(engine, root=tmp_path / "art", scenario="digits", policy="exact", train=TRAIN,
               subject_column="customer")
