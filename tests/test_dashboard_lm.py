"""The Unlearning Comparator on language-model runs: its JSON API and the page in headless
Chromium (classifier runs: test_dashboard.py).

Runs: ``old``, a people-scenario record whose sidecar holds only what runs saved before the
per-question views existed (truth ratios, answer probabilities, Min-K% scores), and one
classifier run (a pair of two kinds). Every number the page shows is checked against a value
computed here from the record or the sidecar arrays.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from dashboard_helpers import get, open_page, pick, rate, serve, value
from obliviate.dashboard import DashboardServer
from obliviate.records import write_record
from obliviate.runner import RunSpec, Trained, Workspace, run
from obliviate.sidecar import read_sidecar, write_sidecar


@dataclass
class Runs:
    ws: Workspace
    old: dict[str, Any]  # recorded before the per-question views: their arrays are missing
    clf: dict[str, Any]  # a classifier run

    def arrays(self, record: dict[str, Any]) -> dict[str, np.ndarray]:
        return read_sidecar(record, self.ws.runs_dir)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, tiny_class: Trained) -> Runs:
    ws = Workspace(tmp_path_factory.mktemp("dash-lm") / "home")
    clf, _ = run(RunSpec("ssd", "class:3", scenario="digits"), ws, trained=tiny_class,
                 progress=False)
    return Runs(ws, _old_lm_run(ws), clf)


def _old_lm_run(ws: Workspace) -> dict[str, Any]:
    """A people-scenario record with the sidecar keys of runs recorded before the per-question
    views: nothing about single questions' answers, people or block states."""
    rng = np.random.default_rng(0)
    record: dict[str, Any] = {
        "schema": "obliviate.run/1", "run_id": "20260101T000000-npo-lmfixture",
        "created": "2026-01-01T00:00:00+00:00",
        "scenario": {"name": "people-small", "forget": "people:0.1", "seed": 0, "kind": "lm"},
        "method": {"name": "npo"}, "efficiency": {"ratio": 0.2}, "environment": {},
        "metrics": {"FQ": {"unit": "p", "original": 0.0, "unlearned": 0.3, "oracle": 1.0,
                           "per_sample": {}}},
    }
    arrays = {}
    for shift, role in ((0.0, "oracle"), (1.5, "original"), (0.7, "unlearned")):
        arrays[f"{role}/mia/forget"] = (rng.normal(-3 + shift, 1, 60)).astype(np.float32)
        arrays[f"{role}/mia/holdout"] = (rng.normal(-3, 1, 80)).astype(np.float32)
        arrays[f"{role}/forget/truth_ratio"] = rng.uniform(0, 1, 60).astype(np.float32)
        arrays[f"{role}/forget/prob"] = rng.uniform(0, 1, 60).astype(np.float32)
    runs_dir = ws.runs_dir
    record["sidecar"] = write_sidecar(runs_dir / f"{record['run_id']}.features.npz", arrays)
    ws.store().add(record, write_record(record, runs_dir))
    return record


@pytest.fixture(scope="module")
def server(runs: Runs) -> Iterator[DashboardServer]:
    yield from serve(runs.ws.store())


# ---- the JSON API ----------------------------------------------------------------------------

def test_a_classifier_and_a_language_model_run_are_not_a_pair(server: DashboardServer,
                                                               runs: Runs) -> None:
    for a, b in ((runs.clf, runs.old), (runs.old, runs.clf)):
        status, body = get(server, f"/api/compare?a={a['run_id']}&b={b['run_id']}")
        assert status == 400 and "pick two runs of the same kind" in body["error"]


def test_old_record_compares_min_k_scores(server: DashboardServer, runs: Runs) -> None:
    status, p = get(server, f"/api/compare?a={runs.old['run_id']}&b=@original")
    assert status == 200 and p["kind"] == "lm"
    s = runs.arrays(runs.old)
    assert (p["mia"]["member"], p["mia"]["nonmember"]) == ("forget", "holdout")
    assert p["mia"]["a"]["member"] == [float(v) for v in s["unlearned/mia/forget"]]
    assert p["mia"]["b"]["nonmember"] == [float(v) for v in s["original/mia/holdout"]]
    assert "classifier runs only" in p["classes"]["unavailable"]
    assert "language-model runs" in p["layers"]["unavailable"]
    assert p["summary"] == [{"metric": "FQ", "unit": "p", "a": 0.3, "b": 0.0, "oracle": 1.0}]


# ---- the page, in headless Chromium ----------------------------------------------------------

def test_old_record_attack_view(browser: Any, server: DashboardServer, runs: Runs) -> None:
    assert open_page(browser, server.url) == "ready"
    pick(browser, runs.old["run_id"], "@oracle")
    s = runs.arrays(runs.old)
    t = float(browser.find_element("id", "mia-threshold-value").get_attribute("data-threshold"))
    for model, role in (("a", "unlearned"), ("b", "oracle")):
        assert value(browser, f"#tpr-{model}") == pytest.approx(
            rate(s[f"{role}/mia/forget"], t), abs=1e-12)
        assert value(browser, f"#fpr-{model}") == pytest.approx(
            rate(s[f"{role}/mia/holdout"], t), abs=1e-12)
    assert "Min-K%" in browser.find_element("id", "mia-explain").text
    note = browser.find_element("css selector", "#view-layer .unavailable")
    assert note.is_displayed() and "language-model runs" in note.text
