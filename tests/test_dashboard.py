"""The Unlearning Comparator on classifier runs: its JSON API, and the page driven in a real
headless Chromium (language-model runs: test_dashboard_lm.py).

Runs are real: SSD and RL on the tiny digits scenario (class 3 forgotten), RL on a random 10%
forget set, a copy of the SSD record without a sidecar, and GA on a user's 3-class CSV (other
data: never compared class by class). Every number the page shows is checked against a value
computed here from the record or the sidecar arrays.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dashboard_helpers import get, open_page, options, pick, rate, serve, value
from obliviate.metrics.cka import linear_cka
from obliviate.runner import RunSpec, Trained, Workspace, run
from obliviate.storage.records import write_record
from obliviate.storage.sidecar import read_sidecar
from obliviate.storage.store import Store, sqlite_url
from obliviate.views.dashboard import DashboardServer


@dataclass
class Runs:
    ws: Workspace
    ssd: dict[str, Any]
    rl: dict[str, Any]
    other: dict[str, Any]  # another forget set: not comparable sample by sample
    bare: dict[str, Any]  # no sidecar
    csv: dict[str, Any]  # a user's CSV with 3 classes: other data than the digits runs

    def arrays(self, record: dict[str, Any]) -> dict[str, np.ndarray]:
        return read_sidecar(record, self.ws.runs_dir)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, tiny_class: Trained,
         tiny_random: Trained) -> Runs:
    ws = Workspace(tmp_path_factory.mktemp("dash") / "home")
    made = {}
    for name, method, t in (("ssd", "ssd", tiny_class), ("rl", "rl", tiny_class),
                            ("other", "rl", tiny_random)):
        spec = RunSpec(method, t.data.forget_spec, scenario=t.data.scenario, seed=0)
        made[name], _ = run(spec, ws, trained=t, progress=False)
    bare = copy.deepcopy(made["ssd"])
    bare["run_id"] += "-nosidecar"
    del bare["sidecar"]
    ws.store().add(bare, write_record(bare, ws.runs_dir))
    rng = np.random.default_rng(1)
    lines = ["a,b,kind"] + [f"{u:.4f},{v:.4f},{_animal(u, v)}"
                            for u, v in rng.normal(size=(150, 2))]
    path = ws.home / "three.csv"
    path.write_text("\n".join(lines))
    made["csv"], _ = run(RunSpec("ga", "class:cat", data=str(path), label="kind",
                                 overrides={"epochs": 1}), ws, progress=False)
    return Runs(ws, made["ssd"], made["rl"], made["other"], bare, made["csv"])


def _animal(u: float, v: float) -> str:
    return "cat" if u > v + .5 else "dog" if u < v - .5 else "eel"


@pytest.fixture(scope="module")
def server(runs: Runs) -> Iterator[DashboardServer]:
    yield from serve(runs.ws.store())


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardServer]:
    yield from serve(Store(sqlite_url(tmp_path_factory.mktemp("empty") / "runs.sqlite")))


# ---- the JSON API ----------------------------------------------------------------------------

def test_lists_runs(server: DashboardServer, runs: Runs) -> None:
    status, body = get(server, "/api/runs")
    assert status == 200 and "hint" not in body
    listed = {r["run_id"]: r for r in body["runs"]}
    assert set(listed) == {r["run_id"] for r in (runs.ssd, runs.rl, runs.other, runs.bare,
                                                 runs.csv)}
    assert listed[runs.ssd["run_id"]]["sidecar"] and not listed[runs.bare["run_id"]]["sidecar"]
    # one data key for every digits run (any forget set), another for the CSV's
    keys = {k: listed[r["run_id"]]["data"] for k, r in (("ssd", runs.ssd), ("other", runs.other),
                                                        ("bare", runs.bare), ("csv", runs.csv))}
    assert keys["ssd"] == keys["other"] == keys["bare"] != keys["csv"]


def test_empty_store_says_how_to_make_a_run(empty_server: DashboardServer) -> None:
    status, body = get(empty_server, "/api/runs")
    assert status == 200 and body["runs"] == []
    assert "no runs" in body["hint"] and "obliviate run --scenario" in body["hint"]


@pytest.mark.parametrize(("query", "status", "message"), [
    ("a=nope", 404, "no run 'nope' in the store"),
    ("a={ssd}&b=nope", 404, "no run 'nope' in the store"),
    ("a={ssd}&b=@best", 400, "b='@best' is neither a run id nor one of @oracle, @original"),
    ("b=@oracle", 400, "pick model A"),
])
def test_bad_requests_are_clear_json_errors(server: DashboardServer, runs: Runs, query: str,
                                            status: int, message: str) -> None:
    got, body = get(server, "/api/compare?" + query.format(ssd=runs.ssd["run_id"]))
    assert (got, body) == (status, {"error": body["error"]})
    assert message in body["error"]


@pytest.mark.parametrize("path", ["/nothing", "/static/../server.py", "/static/data.py",
                                  "/api/other"])
def test_unknown_paths_are_404_json(server: DashboardServer, path: str) -> None:
    status, body = get(server, path)
    assert status == 404 and "error" in body


def test_run_without_sidecar_keeps_record_views_and_explains_the_rest(
        server: DashboardServer, runs: Runs) -> None:
    status, p = get(server, f"/api/compare?a={runs.bare['run_id']}&b=@oracle")
    assert status == 200
    assert p["classes"]["a"] == runs.bare["per_class_accuracy"]["unlearned"]
    for view in ("confusion", "projection", "changed", "layers", "mia"):
        assert "has no feature sidecar" in p[view]["unavailable"]


def test_different_forget_sets_are_not_compared_sample_by_sample(
        server: DashboardServer, runs: Runs) -> None:
    status, p = get(server, f"/api/compare?a={runs.ssd['run_id']}&b={runs.other['run_id']}")
    assert status == 200
    for view in ("projection", "changed", "layers"):
        assert "random:0.1" in p[view]["unavailable"]
    assert "test" in p["confusion"]["splits"] and "a" in p["mia"]


@pytest.mark.parametrize("order", ["digits-first", "csv-first"])
def test_runs_on_other_data_are_never_compared_class_by_class(
        server: DashboardServer, runs: Runs, order: str) -> None:
    """Digits (10 classes) against a 3-class CSV, both ways round: once a 500 (IndexError in
    the confusion matrix) one way and a silent cross-dataset confusion difference the other."""
    a, b = (runs.ssd, runs.csv) if order == "digits-first" else (runs.csv, runs.ssd)
    status, p = get(server, f"/api/compare?a={a['run_id']}&b={b['run_id']}")
    assert status == 200
    assert [r["metric"] for r in p["summary"]]  # the headline metrics stay comparable
    for view in ("classes", "confusion", "projection", "changed", "layers", "mia"):
        why = p[view]["unavailable"]
        assert "different data" in why and "10 classes" in why and "3 classes" in why, view


def test_projection_is_the_joint_pca(server: DashboardServer, runs: Runs) -> None:
    """Independent PCA: eigenvectors of the covariance of both models' stacked features."""
    _, p = get(server, f"/api/compare?a={runs.ssd['run_id']}&b={runs.rl['run_id']}")
    sa, sb = runs.arrays(runs.ssd), runs.arrays(runs.rl)
    x = np.concatenate([s[f"unlearned/{split}/features"] for split in ("forget", "retain", "test")
                        for s in (sa, sb)]).astype(np.float64)
    vals, vecs = np.linalg.eigh(np.cov(x, rowvar=False))
    ratio = vals[::-1][:2] / vals.sum()
    assert p["projection"]["explained"] == pytest.approx(ratio, rel=1e-6)
    pc1 = (x - x.mean(axis=0)) @ vecs[:, -1]
    got = np.array(p["projection"]["points"]["a"]["forget"])[:, 0]
    n = len(got)
    assert np.abs(got) == pytest.approx(np.abs(pc1[:n]), abs=1e-4)  # up to the sign


def test_dashboard_never_imports_torch() -> None:
    code = ("import sys, obliviate.views.dashboard, obliviate.views.dashboard.compare; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_port_in_use_is_one_line(server: DashboardServer, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from obliviate.cli import main

    assert main(["--home", str(tmp_path), "dashboard", "--port", str(server.port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("obliviate: error: cannot listen on 127.0.0.1:") and err.count("\n") == 1


def test_cli_serves_until_ctrl_c(runs: Runs) -> None:
    import signal

    cmd = [sys.executable, "-c", "from obliviate.cli import run_main; run_main()",
           "--home", str(runs.ws.home), "dashboard", "--port", "0"]
    # A shell's background job inherits SIGINT ignored, and Python keeps an inherited SIG_IGN:
    # restore the default so Ctrl-C reaches the server however the suite was started.
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)
                          ) as proc:
        try:
            line = proc.stdout.readline() if proc.stdout else ""
            assert line.startswith("obliviate dashboard at http://localhost:"), line
            url = line.split()[3]
            with urllib.request.urlopen(url + "api/runs", timeout=60) as r:
                assert len(json.loads(r.read())["runs"]) == 5
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:  # a failed check must not leave Popen's exit waiting on a live server
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0 and err == ""


# ---- the page, in headless Chromium ----------------------------------------------------------

def test_compare_two_runs_in_the_browser(browser: Any, server: DashboardServer, runs: Runs,
                                         tmp_path: Path) -> None:
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    assert open_page(browser, server.url) == "ready"
    a, b = runs.ssd, runs.rl
    pick(browser, a["run_id"], b["run_id"])
    sa, sb = runs.arrays(a), runs.arrays(b)
    find = browser.find_element

    # class level: per-class accuracy exactly as the records hold it
    for i, (va, vb) in enumerate(zip(a["per_class_accuracy"]["unlearned"],
                                     b["per_class_accuracy"]["unlearned"], strict=True)):
        row = f'#class-acc tr[data-class="{i}"]'
        assert value(browser, row + " td.a") == pytest.approx(va, abs=1e-12)
        assert value(browser, row + " td.b") == pytest.approx(vb, abs=1e-12)
        assert find("css selector", row + " td.a").text == f"{va:.2f}"
    # ... and the confusion difference on the forget set, counted here from the sidecars
    Select(find("id", "confusion-split")).select_by_value("forget")
    diff = np.zeros((10, 10), dtype=int)
    for sign, s in ((-1, sa), (1, sb)):
        for t, p in zip(s["label/forget"], s["unlearned/forget/pred"], strict=True):
            diff[t, p] += sign
    for t, p in [(3, c) for c in range(10)] + [(0, 0), (8, 8)]:
        assert value(browser, f'#confusion td[data-true="{t}"][data-pred="{p}"]') == diff[t, p]

    # instance level: every sampled point drawn, forget points highlighted; changed predictions
    for model in ("a", "b"):
        for split in ("forget", "retain", "test"):
            circles = browser.find_elements("css selector", f'#projection svg[data-model='
                                            f'"{model}"] circle[data-split="{split}"]')
            assert len(circles) == len(sa[f"ids/{split}"])
    changed = sum(int(np.sum(sa[f"unlearned/{s}/pred"] != sb[f"unlearned/{s}/pred"]))
                  for s in ("forget", "retain", "test"))
    assert value(browser, "#changed-total") == changed
    assert len(browser.find_elements("css selector", "#changed tbody tr")) == min(changed, 200)

    # layer level: linear CKA of each layer on the probe set
    assert np.array_equal(sa["probe/ids"], sb["probe/ids"])
    for k, name in enumerate(sa["layers"]):
        row = f'#cka tr[data-layer="{name}"]'
        want = {"a_b": linear_cka(sa[f"unlearned/layer/{k}"], sb[f"unlearned/layer/{k}"]),
                "a_oracle": linear_cka(sa[f"unlearned/layer/{k}"], sa[f"oracle/layer/{k}"]),
                "b_original": linear_cka(sb[f"unlearned/layer/{k}"], sb[f"original/layer/{k}"])}
        for pair, v in want.items():
            assert value(browser, f'{row} td[data-pair="{pair}"]') == pytest.approx(v, rel=1e-9)

    # attack: TPR (forget flagged) and FPR (test flagged) at the slider's threshold
    def checkrate() -> tuple[float, ...]:
        t = float(find("id", "mia-threshold-value").get_attribute("data-threshold"))
        got = []
        for model, s in (("a", sa), ("b", sb)):
            for which, split in (("tpr", "forget"), ("fpr", "test")):
                want = rate(s[f"unlearned/{split}/confidence"], t)
                assert value(browser, f"#{which}-{model}") == pytest.approx(want, abs=1e-12)
                assert find("id", f"{which}-{model}").text == f"{100 * want:.1f}%"
                got.append(want)
        return (t, *got)

    before = checkrate()
    find("id", "mia-threshold").send_keys(Keys.ARROW_LEFT * 95)
    after = checkrate()
    assert after[0] < before[0]
    # a lower threshold flags more of both sets, and here strictly more of at least one
    assert after[1:] != before[1:]
    assert all(x >= y for x, y in zip(after[1:], before[1:], strict=True))

    shot = tmp_path / "dashboard.png"
    assert browser.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


def test_b_picker_offers_runs_on_the_same_data_grouped(browser: Any, server: DashboardServer,
                                                        runs: Runs) -> None:
    assert open_page(browser, server.url + f"?a={runs.ssd['run_id']}&b=@oracle") == "ready"
    own = ["@oracle", "@original"]
    groups = {k: sorted(v) for k, v in options(browser, "run-b").items()}
    assert groups == {"run A's own models": own,
                      "digits · forget class:3": sorted([runs.rl["run_id"], runs.bare["run_id"]]),
                      "digits · forget random:0.1": [runs.other["run_id"]]}
    a_groups = options(browser, "run-a")
    assert sorted(a_groups["digits · forget class:3"]) == sorted(
        r["run_id"] for r in (runs.ssd, runs.rl, runs.bare))
    assert a_groups[f"{runs.csv['scenario']['name']} · forget class:cat"] == [runs.csv["run_id"]]
    pick(browser, runs.csv["run_id"], "@original")  # nothing else ran on the CSV
    assert options(browser, "run-b") == {"run A's own models": own}
    # A pair asked for by URL is shown as asked, each view saying why it cannot be drawn
    url = server.url + f"?a={runs.csv['run_id']}&b={runs.ssd['run_id']}"
    assert open_page(browser, url) == "ready"
    assert options(browser, "run-b")["not comparable with A"] == [runs.ssd["run_id"]]
    for view in ("view-class", "view-layer", "view-attack"):
        note = browser.find_element("css selector", f"#{view} .unavailable")
        assert note.is_displayed() and "different data" in note.text


def test_oracle_as_model_b(browser: Any, server: DashboardServer, runs: Runs) -> None:
    assert open_page(browser, server.url) == "ready"
    pick(browser, runs.rl["run_id"], "@oracle")
    s = runs.arrays(runs.rl)
    assert "oracle" in browser.find_element("id", "label-b").text
    for k, name in enumerate(s["layers"]):
        row = f'#cka tr[data-layer="{name}"]'
        assert value(browser, f'{row} td[data-pair="b_oracle"]') == pytest.approx(1.0)
        assert value(browser, f'{row} td[data-pair="a_b"]') == pytest.approx(
            linear_cka(s[f"unlearned/layer/{k}"], s[f"oracle/layer/{k}"]), rel=1e-9)
    per_class = runs.rl["per_class_accuracy"]["oracle"]
    assert value(browser, '#class-acc tr[data-class="3"] td.b') == pytest.approx(per_class[3])


def test_unknown_run_id_shows_the_message(browser: Any, server: DashboardServer) -> None:
    assert open_page(browser, server.url + "?a=no-such-run") == "error"
    message = browser.find_element("id", "message")
    assert message.is_displayed() and "no run 'no-such-run' in the store" in message.text
    assert not browser.find_element("id", "comparison").is_displayed()


def test_run_without_sidecar_explains_in_each_view(browser: Any, server: DashboardServer,
                                                   runs: Runs) -> None:
    assert open_page(browser, server.url) == "ready"
    pick(browser, runs.bare["run_id"], "@original")
    for view in ("view-instance", "view-layer", "view-attack"):
        note = browser.find_element("css selector", f"#{view} .unavailable")
        assert note.is_displayed() and "has no feature sidecar" in note.text
    assert browser.find_element("css selector", "#class-acc").is_displayed()


def test_empty_store_page(browser: Any, empty_server: DashboardServer) -> None:
    assert open_page(browser, empty_server.url) == "empty"
    message = browser.find_element("id", "message")
    assert message.is_displayed() and "no runs in this store yet" in message.text
    assert "obliviate run --scenario digits" in message.text


def test_a_method_that_changed_nothing_says_so(server: DashboardServer, runs: Runs,
                                                tiny_class: Trained, browser: Any) -> None:
    """SSD with alpha 1e9 selects no weight: the dashboard's verdict for A says the model is
    unchanged (as the run output and the report do); a working run's verdict does not."""
    record, _ = run(RunSpec("ssd", "class:3", scenario=tiny_class.data.scenario, seed=0,
                            overrides={"alpha": 1e9}, use_preset=False), runs.ws,
                    trained=tiny_class, progress=False)
    assert record["effect"]["changed_parameters"] == 0
    status, body = get(server, f"/api/compare?a={record['run_id']}&b=@oracle")
    assert status == 200 and "left the model unchanged" in body["verdicts"]["a"]
    status, body = get(server, f"/api/compare?a={runs.rl['run_id']}&b=@oracle")
    assert "unchanged" not in body["verdicts"]["a"] and body["verdicts"]["a"].startswith(
        "verdict: forgetting")
    open_page(browser, f"{server.url}?a={record['run_id']}&b=@oracle")
    assert "left the model unchanged" in browser.find_element("id", "verdict-a").text
