"""A regression run end to end through ``obliviate.cli.main``: the record, the store, the
report, the dashboard's comparison, attacks; a user's CSV with ``--task regression``; and
bad input answered with one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from obliviate.scenarios import SCENARIOS
from obliviate.storage.records import read_record
from obliviate.storage.sidecar import read_sidecar
from obliviate.storage.store import Store, sqlite_url
from obliviate.views.dashboard.compare import compare
from obliviate.views.dashboard.data import RunSource
from test_cli import cli, one_line_error
from test_regression import TINY


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setitem(SCENARIOS, TINY.name, TINY)  # so the CLI finds it by name
    return TINY.name


def test_run_record_store_report_dashboard(tiny: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "h"
    assert cli(home, "run", "--scenario", tiny, "--forget", "outliers", "--method",
               "gaussian_ft", "--set", "epochs=5", "--attack", "relearn,quantize") == 0
    out = capsys.readouterr().out
    for needle in ("MAE (D_f) (y)", "nMAE (D_t) (%)", "MIA-Eff (loss)", "Gap (pp)",
                   "noise floor", "verdict: forgetting", "relearn", "8-bit"):
        assert needle in out, needle
    path = Path(out.strip().splitlines()[-1].removeprefix("record: "))
    rec = read_record(path)
    assert rec["scenario"]["kind"] == "regression"
    assert rec["scenario"]["outliers"] == {"planted": 10, "in_forget": 10}
    m = rec["metrics"]
    # Every role's errors, and the gap computed from the record's own numbers.
    parts = ("nMAE (D_f)", "nMAE (D_r)", "nMAE (D_t)", "MIA-Eff (loss)")
    for role in ("original", "unlearned", "independent"):
        want = sum(abs(m[k][role] - m[k]["oracle"]) for k in parts) / 4
        assert m["Gap"][role] == pytest.approx(want)
    assert m["Gap"]["oracle"] == 0.0
    std = rec["scenario"]["target"]["std"]
    assert m["nMAE (D_f)"]["original"] == pytest.approx(100 * m["MAE (D_f)"]["original"] / std)
    # The original memorised the planted outliers; the oracle never saw them.
    assert m["MAE (D_f)"]["original"] < 0.5 * m["MAE (D_f)"]["oracle"]
    per = m["MAE (D_f)"]["per_sample"]["original"]
    assert np.mean(per) == pytest.approx(m["MAE (D_f)"]["original"], rel=1e-4)
    assert set(rec["attacks"]) == {"relearn", "quantize"}
    arrays = read_sidecar(rec, path.parent)
    y, p = arrays["label/forget"].astype(float), arrays["oracle/forget/pred"].astype(float)
    assert np.mean(np.abs(p - y)) == pytest.approx(m["MAE (D_f)"]["oracle"], rel=1e-3)

    listed = Store(sqlite_url(home / "runs.sqlite")).list()
    assert [r["run_id"] for r in listed] == [rec["run_id"]]
    report = tmp_path / "r.html"
    assert cli(home, "report", str(path), "-o", str(report)) == 0
    html = report.read_text()
    for needle in ('id="regression-tradeoff"', 'id="predictions"', 'data-mia="regression"',
                   "nMAE forget", "Gap"):
        assert needle in html, needle

    payload = compare(RunSource(Store(sqlite_url(home / "runs.sqlite"))), rec["run_id"],
                      "@oracle")
    assert payload["kind"] == "regression" and "unavailable" in payload["confusion"]
    assert payload["mia"]["a"]["auc"] is not None and "Gaussian" in payload["mia"]["score"]
    assert "unavailable" not in payload["projection"] and payload["layers"]["rows"]
    assert payload["changed"]["counts"]["forget"]["compared"] == 10
    json.dumps(payload)  # the API sends it as JSON


def test_user_csv_with_task_regression(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    y = 2 * x[:, 0] - x[:, 1] + 0.1 * rng.normal(size=60)
    csv = tmp_path / "table.csv"
    csv.write_text("a,b,c,y\n" + "\n".join(",".join(f"{v:.5f}" for v in (*r, t))
                                          for r, t in zip(x, y, strict=True)))
    assert cli(tmp_path / "h", "run", "--data", str(csv), "--label", "y", "--task",
               "regression", "--forget", "random:0.1", "--method", "ft",
               "--no-noise-floor") == 0
    out = capsys.readouterr().out
    assert f"user:{csv}" in out and "MAE (D_t)" in out
    assert "diabetes" in out.splitlines()[0]  # the config line: diabetes' presets, or none
    assert cli(tmp_path / "h", "split", "--data", str(csv), "--label", "y", "--task",
               "regression") == 0
    assert "60 source rows" in capsys.readouterr().out


@pytest.mark.parametrize(("rows", "argv", "needles"), [
    ("a,y\n" + "\n".join(f"{i},{i * 2}" for i in range(30)) + "\n31,high",
     ["--forget", "random:0.1"], ["line 32", "'high' is not a number", "target 'y'"]),
    ("a,y\n" + "\n".join(f"{i},{i * 2}" for i in range(30)),
     ["--forget", "range:1000:2000"], ["is empty", "[1000, 2000]", "range from"]),
    ("a,y\n" + "\n".join(f"{i},{i * 2}" for i in range(30)),
     ["--forget", "outliers"], ["planted no outliers"]),
    ("a,y\n" + "\n".join(f"{i},{i * 2}" for i in range(30)),
     ["--forget", "random:0.1", "--method", "scrub"], ["'scrub' does not support",
                                                       "'regression'"]),
    ("a,y\n" + "\n".join(f"{i},3" for i in range(30)),
     ["--forget", "random:0.1"], ["target 'y' is constant"]),
])
def test_bad_input_is_one_line_exit_2(rows: str, argv: list[str], needles: list[str],
                                      tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text(rows)
    method = [] if "--method" in argv else ["--method", "ft"]
    assert cli(tmp_path / "h", "run", "--data", str(csv), "--label", "y", "--task",
               "regression", *argv, *method) == 2
    one_line_error(capsys, *needles)
    assert not (tmp_path / "h" / "cache").exists()  # refused before anything was trained


def test_unknown_task_kind_is_one_line(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(tmp_path, "run", "--task", "regresion", "--forget", "random:0.1",
               "--method", "ft") == 2
    one_line_error(capsys, "unknown --task 'regresion'", "regression")
