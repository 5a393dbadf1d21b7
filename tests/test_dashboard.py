"""The Unlearning Comparator: its JSON API, and the page driven in a real headless Chromium.

Runs are real: SSD and RL on the tiny digits scenario (class 3 forgotten), RL on a random 10%
forget set, and a copy of the SSD record without a sidecar. Every number the page shows is
checked against a value computed here from the record or the sidecar arrays.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import HTTPError

import numpy as np
import pytest

from obliviate.dashboard import DashboardServer, make_server
from obliviate.metrics.cka import linear_cka
from obliviate.records import write_record
from obliviate.runner import RunSpec, Trained, Workspace, run
from obliviate.sidecar import read_sidecar, write_sidecar
from obliviate.store import Store, sqlite_url

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@dataclass
class Runs:
    ws: Workspace
    ssd: dict[str, Any]
    rl: dict[str, Any]
    other: dict[str, Any]  # another forget set: not comparable sample by sample
    bare: dict[str, Any]  # no sidecar
    lm: dict[str, Any]  # a language-model run (its record and sidecar written here)

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
    lm = _lm_run(ws)
    return Runs(ws, made["ssd"], made["rl"], made["other"], bare, lm)


def _lm_run(ws: Workspace) -> dict[str, Any]:
    """A people-scenario record with the LM sidecar keys (training a GPT-2 here would be slow;
    the runner's LM sidecar is tested with the LM pipeline)."""
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


def _serve(store: Store) -> Iterator[DashboardServer]:
    server = make_server(store, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def server(runs: Runs) -> Iterator[DashboardServer]:
    yield from _serve(runs.ws.store())


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardServer]:
    yield from _serve(Store(sqlite_url(tmp_path_factory.mktemp("empty") / "runs.sqlite")))


def get(server: DashboardServer, path: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=10) as r:
            return r.status, json.loads(r.read())
    except HTTPError as e:
        with e:
            return e.code, json.loads(e.read())


# ---- the JSON API ----------------------------------------------------------------------------

def test_lists_runs(server: DashboardServer, runs: Runs) -> None:
    status, body = get(server, "/api/runs")
    assert status == 200 and "hint" not in body
    listed = {r["run_id"]: r for r in body["runs"]}
    assert set(listed) == {r["run_id"] for r in (runs.ssd, runs.rl, runs.other, runs.bare,
                                                 runs.lm)}
    assert listed[runs.ssd["run_id"]]["sidecar"] and not listed[runs.bare["run_id"]]["sidecar"]


def test_empty_store_says_how_to_make_a_run(empty_server: DashboardServer) -> None:
    status, body = get(empty_server, "/api/runs")
    assert status == 200 and body["runs"] == []
    assert "no runs" in body["hint"] and "obliviate run --scenario" in body["hint"]


@pytest.mark.parametrize(("query", "status", "message"), [
    ("a=nope", 404, "no run 'nope' in the store"),
    ("a={ssd}&b=nope", 404, "no run 'nope' in the store"),
    ("a={ssd}&b=@best", 400, "b='@best' is neither a run id nor one of @oracle, @original"),
    ("b=@oracle", 400, "pick model A"),
    ("a={ssd}&b={lm}", 400, "pick two runs of the same kind"),
])
def test_bad_requests_are_clear_json_errors(server: DashboardServer, runs: Runs, query: str,
                                            status: int, message: str) -> None:
    got, body = get(server, "/api/compare?" + query.format(ssd=runs.ssd["run_id"],
                                                           lm=runs.lm["run_id"]))
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


def test_language_model_runs_compare_min_k_scores(server: DashboardServer, runs: Runs) -> None:
    status, p = get(server, f"/api/compare?a={runs.lm['run_id']}&b=@original")
    assert status == 200 and p["kind"] == "lm"
    s = runs.arrays(runs.lm)
    assert (p["mia"]["member"], p["mia"]["nonmember"]) == ("forget", "holdout")
    assert p["mia"]["a"]["member"] == [float(v) for v in s["unlearned/mia/forget"]]
    assert p["mia"]["b"]["nonmember"] == [float(v) for v in s["original/mia/holdout"]]
    assert "classifier runs only" in p["classes"]["unavailable"]
    assert "language-model runs" in p["layers"]["unavailable"]
    assert p["summary"] == [{"metric": "FQ", "unit": "p", "a": 0.3, "b": 0.0, "oracle": 1.0}]


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
    code = ("import sys, obliviate.dashboard, obliviate.dashboard.compare; "
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
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("obliviate dashboard at http://localhost:"), line
        url = line.split()[3]
        with urllib.request.urlopen(url + "api/runs", timeout=10) as r:
            assert len(json.loads(r.read())["runs"]) == 5
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and err == ""


# ---- the page, in headless Chromium ----------------------------------------------------------

@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.skip("Debian's chromium and chromium-driver are not installed "
                    "(scripts/setup.sh installs them)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1300,1400",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(flag)
    # The driver's path is given, so Selenium Manager never looks for (or downloads) one.
    driver = webdriver.Chrome(options=opts, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


def _open(browser: Any, url: str) -> str:
    """Load ``url`` and wait until the page settles; returns its state."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    return str(WebDriverWait(browser, 15).until(
        lambda d: d.find_element("tag name", "body").get_attribute("data-state")
        if d.find_element("tag name", "body").get_attribute("data-state") != "loading"
        else False))


def _pick(browser: Any, a: str, b: str) -> None:
    from selenium.webdriver.support.ui import Select, WebDriverWait

    Select(browser.find_element("id", "run-a")).select_by_value(a)
    Select(browser.find_element("id", "run-b")).select_by_value(b)

    def ready(d: Any) -> bool:
        c = d.find_element("id", "comparison")
        return bool(d.find_element("tag name", "body").get_attribute("data-state") == "ready"
                    and c.get_attribute("data-a") == a and c.get_attribute("data-b") == b)

    WebDriverWait(browser, 15).until(ready)


def _value(browser: Any, css: str) -> float:
    return float(browser.find_element("css selector", css).get_attribute("data-value"))


def _rates(scores: np.ndarray, t: float) -> float:
    return float(np.mean(scores.astype(np.float64) >= t))


def test_compare_two_runs_in_the_browser(browser: Any, server: DashboardServer, runs: Runs,
                                         tmp_path: Path) -> None:
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    assert _open(browser, server.url) == "ready"
    a, b = runs.ssd, runs.rl
    _pick(browser, a["run_id"], b["run_id"])
    sa, sb = runs.arrays(a), runs.arrays(b)
    find = browser.find_element

    # class level: per-class accuracy exactly as the records hold it
    for i, (va, vb) in enumerate(zip(a["per_class_accuracy"]["unlearned"],
                                     b["per_class_accuracy"]["unlearned"], strict=True)):
        row = f'#class-acc tr[data-class="{i}"]'
        assert _value(browser, row + " td.a") == pytest.approx(va, abs=1e-12)
        assert _value(browser, row + " td.b") == pytest.approx(vb, abs=1e-12)
        assert find("css selector", row + " td.a").text == f"{va:.2f}"
    # ... and the confusion difference on the forget set, counted here from the sidecars
    Select(find("id", "confusion-split")).select_by_value("forget")
    diff = np.zeros((10, 10), dtype=int)
    for sign, s in ((-1, sa), (1, sb)):
        for t, p in zip(s["label/forget"], s["unlearned/forget/pred"], strict=True):
            diff[t, p] += sign
    for t, p in [(3, c) for c in range(10)] + [(0, 0), (8, 8)]:
        assert _value(browser, f'#confusion td[data-true="{t}"][data-pred="{p}"]') == diff[t, p]

    # instance level: every sampled point drawn, forget points highlighted; changed predictions
    for model in ("a", "b"):
        for split in ("forget", "retain", "test"):
            circles = browser.find_elements("css selector", f'#projection svg[data-model='
                                            f'"{model}"] circle[data-split="{split}"]')
            assert len(circles) == len(sa[f"ids/{split}"])
    changed = sum(int(np.sum(sa[f"unlearned/{s}/pred"] != sb[f"unlearned/{s}/pred"]))
                  for s in ("forget", "retain", "test"))
    assert _value(browser, "#changed-total") == changed
    assert len(browser.find_elements("css selector", "#changed tbody tr")) == min(changed, 200)

    # layer level: linear CKA of each layer on the probe set
    assert np.array_equal(sa["probe/ids"], sb["probe/ids"])
    for k, name in enumerate(sa["layers"]):
        row = f'#cka tr[data-layer="{name}"]'
        want = {"a_b": linear_cka(sa[f"unlearned/layer/{k}"], sb[f"unlearned/layer/{k}"]),
                "a_oracle": linear_cka(sa[f"unlearned/layer/{k}"], sa[f"oracle/layer/{k}"]),
                "b_original": linear_cka(sb[f"unlearned/layer/{k}"], sb[f"original/layer/{k}"])}
        for pair, v in want.items():
            assert _value(browser, f'{row} td[data-pair="{pair}"]') == pytest.approx(v, rel=1e-9)

    # attack: TPR (forget flagged) and FPR (test flagged) at the slider's threshold
    def check_rates() -> tuple[float, ...]:
        t = float(find("id", "mia-threshold-value").get_attribute("data-threshold"))
        got = []
        for model, s in (("a", sa), ("b", sb)):
            for rate, split in (("tpr", "forget"), ("fpr", "test")):
                want = _rates(s[f"unlearned/{split}/confidence"], t)
                assert _value(browser, f"#{rate}-{model}") == pytest.approx(want, abs=1e-12)
                assert find("id", f"{rate}-{model}").text == f"{100 * want:.1f}%"
                got.append(want)
        return (t, *got)

    before = check_rates()
    find("id", "mia-threshold").send_keys(Keys.ARROW_LEFT * 95)
    after = check_rates()
    assert after[0] < before[0]
    # a lower threshold flags more of both sets, and here strictly more of at least one
    assert after[1:] != before[1:]
    assert all(x >= y for x, y in zip(after[1:], before[1:], strict=True))

    shot = tmp_path / "dashboard.png"
    assert browser.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


def test_oracle_as_model_b(browser: Any, server: DashboardServer, runs: Runs) -> None:
    assert _open(browser, server.url) == "ready"
    _pick(browser, runs.rl["run_id"], "@oracle")
    s = runs.arrays(runs.rl)
    assert "oracle" in browser.find_element("id", "label-b").text
    for k, name in enumerate(s["layers"]):
        row = f'#cka tr[data-layer="{name}"]'
        assert _value(browser, f'{row} td[data-pair="b_oracle"]') == pytest.approx(1.0)
        assert _value(browser, f'{row} td[data-pair="a_b"]') == pytest.approx(
            linear_cka(s[f"unlearned/layer/{k}"], s[f"oracle/layer/{k}"]), rel=1e-9)
    per_class = runs.rl["per_class_accuracy"]["oracle"]
    assert _value(browser, '#class-acc tr[data-class="3"] td.b') == pytest.approx(per_class[3])


def test_unknown_run_id_shows_the_message(browser: Any, server: DashboardServer) -> None:
    assert _open(browser, server.url + "?a=no-such-run") == "error"
    message = browser.find_element("id", "message")
    assert message.is_displayed() and "no run 'no-such-run' in the store" in message.text
    assert not browser.find_element("id", "comparison").is_displayed()


def test_run_without_sidecar_explains_in_each_view(browser: Any, server: DashboardServer,
                                                   runs: Runs) -> None:
    assert _open(browser, server.url) == "ready"
    _pick(browser, runs.bare["run_id"], "@original")
    for view in ("view-instance", "view-layer", "view-attack"):
        note = browser.find_element("css selector", f"#{view} .unavailable")
        assert note.is_displayed() and "has no feature sidecar" in note.text
    assert browser.find_element("css selector", "#class-acc").is_displayed()


def test_empty_store_page(browser: Any, empty_server: DashboardServer) -> None:
    assert _open(browser, empty_server.url) == "empty"
    message = browser.find_element("id", "message")
    assert message.is_displayed() and "no runs in this store yet" in message.text
    assert "obliviate run --scenario digits" in message.text


def test_language_model_attack_view(browser: Any, server: DashboardServer, runs: Runs) -> None:
    assert _open(browser, server.url) == "ready"
    _pick(browser, runs.lm["run_id"], "@oracle")
    s = runs.arrays(runs.lm)
    t = float(browser.find_element("id", "mia-threshold-value").get_attribute("data-threshold"))
    for model, role in (("a", "unlearned"), ("b", "oracle")):
        assert _value(browser, f"#tpr-{model}") == pytest.approx(
            _rates(s[f"{role}/mia/forget"], t), abs=1e-12)
        assert _value(browser, f"#fpr-{model}") == pytest.approx(
            _rates(s[f"{role}/mia/holdout"], t), abs=1e-12)
    assert "Min-K%" in browser.find_element("id", "mia-explain").text
    note = browser.find_element("css selector", "#view-layer .unavailable")
    assert note.is_displayed() and "language-model runs" in note.text
