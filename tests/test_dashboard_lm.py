"""The Unlearning Comparator on language-model runs: its JSON API and the page in headless
Chromium (classifier runs: test_dashboard.py).

Runs are real, on the tiny people scenario (6 people, forget 2 of them; a 64-wide GPT-2): GA
and NPO from an original that learned the forget questions (a short training on them alone)
beside an untrained oracle, and GA on another forget set. Besides: ``old``, a record whose
sidecar holds only what runs saved before the per-question views existed, and a classifier
run (a pair of two kinds). Every number the page shows is checked against a value computed
here independently: KS by scipy, CKA by the HSIC formula, AUC by scikit-learn, answers by
Hugging Face's own ``generate``, people from the corpus.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from scipy.stats import ks_2samp
from sklearn.metrics import roc_auc_score

from conftest import untrained_lm_pair
from dashboard_helpers import get, open_page, options, pick, rate, serve, value
from obliviate.runner import RunSpec, Trained, Workspace, run
from obliviate.storage.records import write_record
from obliviate.storage.sidecar import read_sidecar, write_sidecar
from obliviate.tasks.causal_lm.encoding import encode_qa, prompt_ids
from obliviate.tasks.causal_lm.training import train_lm
from obliviate.views.dashboard import DashboardServer

COLUMNS = {"original": "original", "a": "unlearned", "b": "unlearned", "oracle": "oracle"}


@dataclass
class Runs:
    ws: Workspace
    pair: Trained  # the original and oracle of ga and npo
    ga: dict[str, Any]
    npo: dict[str, Any]
    other: dict[str, Any]  # GA on another forget set (people:0.5) of the same corpus
    old: dict[str, Any]  # recorded before the per-question views: their arrays are missing
    clf: dict[str, Any]  # a classifier run

    def arrays(self, record: dict[str, Any]) -> dict[str, np.ndarray]:
        return read_sidecar(record, self.ws.runs_dir)


def memorised_pair() -> Trained:
    """An original trained on the forget questions alone (25 epochs, about 2 s: most answered
    exactly) and the untrained, perturbed oracle, so every per-question array differs."""
    fake = untrained_lm_pair()  # registers people-tiny; its oracle never saw anything
    data = fake.data
    qa = data.judge_split("original")
    forget_qa = qa.subset(np.flatnonzero([data.items[r].subject in data.forget_ids
                                          for r in qa.ids]))
    original = data.new_model()
    train_lm(original, forget_qa, data.task, replace(data.recipe, max_epochs=40,
                                                     target_exact_match=0.6),
             seed=0, progress=False)
    return Trained(data, original.eval(), fake.oracle, fake.meta)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, tiny_class: Trained) -> Runs:
    ws = Workspace(tmp_path_factory.mktemp("dash-lm") / "home")
    pair = memorised_pair()
    made = {}
    for method in ("ga", "npo"):
        made[method], _ = run(RunSpec(method, "people:0.34", "people-tiny", 0,
                                      overrides={"epochs": 1}), ws, trained=pair,
                              progress=False)
    made["other"], _ = run(RunSpec("ga", "people:0.5", "people-tiny", 0,
                                   overrides={"epochs": 1}), ws,
                           trained=untrained_lm_pair("people:0.5"), progress=False)
    clf, _ = run(RunSpec("ssd", "class:3", scenario="digits"), ws, trained=tiny_class,
                 progress=False)
    return Runs(ws, pair, made["ga"], made["npo"], made["other"], _old_lm_run(ws), clf)


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


def _ecdf(x: np.ndarray, at: float) -> float:
    return float(np.mean(np.asarray(x, np.float64) <= at))


def _hsic_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA as Kornblith et al. (2019) eq. 3 writes it: HSIC(K, L) / sqrt(HSIC(K, K)
    HSIC(L, L)) with K = X X^T, L = Y Y^T and the centring matrix H (not metrics/cka.py)."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n
    k, m = h @ (x @ x.T) @ h, h @ (y @ y.T) @ h
    return float(np.sum(k * m) / np.sqrt(np.sum(k * k) * np.sum(m * m)))


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


# ---- what the run writes ---------------------------------------------------------------------

def test_sidecar_holds_every_forget_question(runs: Runs) -> None:
    """Questions, people, answers and block states, each recomputed here another way."""
    data, s, rec = runs.pair.data, runs.arrays(runs.ga), runs.ga
    tok = data.tokenizer
    owner = {f.questions[0]: p for p in data.corpus.people for f in p.facts}
    n = len(s["forget/question"])
    assert n == rec["lm"]["forget_questions"] == sum(len(p.facts) for p in data.people["forget"])
    assert list(s["forget/person"]) == [owner[q].id for q in s["forget/question"]]
    assert list(s["forget/person_name"]) == [owner[q].name for q in s["forget/question"]]
    assert sorted(set(s["forget/person"])) == sorted(rec["scenario"]["forget_people"])
    answer = {f.questions[0]: f.answer for p in data.corpus.people for f in p.facts}
    assert list(s["forget/reference"]) == [answer[q] for q in s["forget/question"]]
    for role, model in (("original", runs.pair.original), ("oracle", runs.pair.oracle)):
        for j, q in enumerate(s["forget/question"]):  # Hugging Face's own greedy decoding
            ids = torch.tensor([prompt_ids(tok, str(q))])
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12,
                                 do_sample=False, pad_token_id=data.task.pad_id,
                                 eos_token_id=data.task.eos_id)[0, ids.shape[1]:].tolist()
            out = out[:out.index(data.task.eos_id)] if data.task.eos_id in out else out
            assert s[f"{role}/forget/answer"][j] == tok.decode(out, skip_special_tokens=True)
    for role in ("original", "unlearned", "oracle"):
        exact = s[f"{role}/forget/exact"]
        assert exact.dtype == bool and list(exact) == [
            _words(str(a)) == _words(str(r))
            for a, r in zip(s[f"{role}/forget/answer"], s["forget/reference"], strict=True)]
        assert 100 * exact.mean() == pytest.approx(rec["metrics"]["Exact match (D_f)"][role])
    # the original learned some forget answers and the oracle none: the flags can tell
    assert s["original/forget/exact"].any() and not s["oracle/forget/exact"].any()
    # block states: one forward per probe question, no padding, mean over its tokens
    assert list(s["layers"]) == ["embeddings", "block 1", "block 2 + final norm"]
    assert list(s["probe/ids"]) == list(range(n))  # fewer than 64 questions: all of them
    for j in (0, n // 2, n - 1):
        q = str(s["forget/question"][j])
        ids = torch.tensor([encode_qa(tok, q, answer[q])[0]])
        with torch.no_grad():
            states = runs.pair.original(input_ids=ids, output_hidden_states=True).hidden_states
        for k, h in enumerate(states):
            np.testing.assert_allclose(s[f"original/layer/{k}"][j], h[0].mean(dim=0).numpy(),
                                       rtol=1e-4, atol=1e-5)


# ---- the JSON API ----------------------------------------------------------------------------

def test_a_classifier_and_a_language_model_run_are_not_a_pair(server: DashboardServer,
                                                               runs: Runs) -> None:
    for a, b in ((runs.clf, runs.ga), (runs.ga, runs.clf)):
        status, body = get(server, f"/api/compare?a={a['run_id']}&b={b['run_id']}")
        assert status == 400 and "pick two runs of the same kind" in body["error"]


def test_truth_ratio_view_is_the_ks_test(server: DashboardServer, runs: Runs) -> None:
    status, p = get(server, f"/api/compare?a={runs.ga['run_id']}&b={runs.npo['run_id']}")
    assert status == 200 and p["kind"] == "lm"
    sa, sb = runs.arrays(runs.ga), runs.arrays(runs.npo)
    t, oracle = p["truth"], sa["oracle/forget/truth_ratio"]
    assert t["a"] == [float(v) for v in sa["unlearned/forget/truth_ratio"]]
    assert t["b"] == [float(v) for v in sb["unlearned/forget/truth_ratio"]]
    assert t["oracle"] == [float(v) for v in oracle]
    for key, s, rec in (("a", sa, runs.ga), ("b", sb, runs.npo)):
        x, ks = s["unlearned/forget/truth_ratio"], t["ks"][key]
        want = ks_2samp(x.astype(np.float64), oracle.astype(np.float64))
        assert ks["statistic"] == pytest.approx(want.statistic, abs=1e-12)
        assert ks["pvalue"] == pytest.approx(want.pvalue, rel=1e-9)
        assert ks["pvalue"] == pytest.approx(rec["metrics"]["Forget quality"]["unlearned"],
                                             rel=1e-6)
        assert abs(_ecdf(x, ks["at"]) - _ecdf(oracle, ks["at"])) == pytest.approx(
            ks["statistic"], abs=1e-12)
        assert ks["cdf"] == pytest.approx([_ecdf(x, ks["at"]), _ecdf(oracle, ks["at"])])


def test_answers_and_forgetting_per_person(server: DashboardServer, runs: Runs) -> None:
    _, p = get(server, f"/api/compare?a={runs.ga['run_id']}&b={runs.npo['run_id']}")
    sa, sb = runs.arrays(runs.ga), runs.arrays(runs.npo)
    side = {"original": sa, "a": sa, "b": sb, "oracle": sa}
    ans = p["answers"]
    assert ans["question"] == [str(q) for q in sa["forget/question"]]
    for col, role in COLUMNS.items():
        assert ans["answers"][col] == [str(a) for a in side[col][f"{role}/forget/answer"]]
        assert ans["exact"][col] == [bool(e) for e in side[col][f"{role}/forget/exact"]]
        assert ans["exact_count"][col] == int(side[col][f"{role}/forget/exact"].sum())
    rows = p["people"]["rows"]
    data = runs.pair.data
    assert [r["person"] for r in rows] == [q.id for q in data.people["forget"]]
    for r, person in zip(rows, data.people["forget"], strict=True):
        at = [j for j, q in enumerate(sa["forget/question"])
              if q in {f.questions[0] for f in person.facts}]
        assert r["questions"] == len(person.facts) == len(at) and r["name"] == person.name
        for col, role in COLUMNS.items():
            exact = side[col][f"{role}/forget/exact"][at]
            assert r["exact"][col] == pytest.approx(100 * np.sum(exact) / len(at))
            prob = side[col][f"{role}/forget/prob"][at].astype(np.float64)
            assert r["prob"][col] == pytest.approx(prob.sum() / len(at), rel=1e-6)


def test_layer_cka_across_transformer_blocks(server: DashboardServer, runs: Runs) -> None:
    _, p = get(server, f"/api/compare?a={runs.ga['run_id']}&b={runs.npo['run_id']}")
    sa, sb = runs.arrays(runs.ga), runs.arrays(runs.npo)
    layers = p["layers"]
    assert layers["probe"] == len(sa["probe/ids"]) and "forget questions" in layers["probe_set"]
    assert [r["layer"] for r in layers["rows"]] == list(sa["layers"])
    for k, row in enumerate(layers["rows"]):
        a, b = sa[f"unlearned/layer/{k}"], sb[f"unlearned/layer/{k}"]
        assert row["a_b"] == pytest.approx(_hsic_cka(a, b), rel=1e-9)
        assert row["a_original"] == pytest.approx(_hsic_cka(a, sa[f"original/layer/{k}"]),
                                                  rel=1e-9)
        assert row["b_oracle"] == pytest.approx(_hsic_cka(b, sb[f"oracle/layer/{k}"]), rel=1e-9)


def test_membership_attack_on_biographies(server: DashboardServer, runs: Runs) -> None:
    _, p = get(server, f"/api/compare?a={runs.ga['run_id']}&b=@original")
    s = runs.arrays(runs.ga)
    for key, role in (("a", "unlearned"), ("b", "original")):
        f, h = s[f"{role}/mia/forget"], s[f"{role}/mia/holdout"]
        assert p["mia"][key]["member"] == [float(v) for v in f]
        want = roc_auc_score(np.r_[np.ones(len(f)), np.zeros(len(h))], np.r_[f, h])
        assert p["mia"][key]["auc"] == pytest.approx(want, abs=1e-12)


def test_runs_that_forgot_other_people_are_not_compared_per_question(
        server: DashboardServer, runs: Runs) -> None:
    status, p = get(server, f"/api/compare?a={runs.ga['run_id']}&b={runs.other['run_id']}")
    assert status == 200
    for view in ("truth", "answers", "people", "layers"):
        assert "per-question views need runs that forgot the same people" in (
            p[view]["unavailable"])
    assert p["mia"]["a"]["auc"] is not None  # each model's own attack still compares


def test_old_record_says_what_it_lacks(server: DashboardServer, runs: Runs) -> None:
    status, p = get(server, f"/api/compare?a={runs.old['run_id']}&b=@original")
    assert status == 200 and p["kind"] == "lm"
    s = runs.arrays(runs.old)
    assert (p["mia"]["member"], p["mia"]["nonmember"]) == ("forget", "holdout")
    assert p["mia"]["a"]["member"] == [float(v) for v in s["unlearned/mia/forget"]]
    assert p["mia"]["b"]["nonmember"] == [float(v) for v in s["original/mia/holdout"]]
    assert p["truth"]["b"] == [float(v) for v in s["original/forget/truth_ratio"]]
    assert "classifier runs only" in p["classes"]["unavailable"]
    old = f"run {runs.old['run_id']} was recorded before runs saved"
    assert p["answers"]["unavailable"].startswith(old + " each forget question's answers")
    assert p["people"]["unavailable"] == p["answers"]["unavailable"]
    assert p["layers"]["unavailable"].startswith(old + " transformer-block hidden states")
    assert p["summary"] == [{"metric": "FQ", "unit": "p", "a": 0.3, "b": 0.0, "oracle": 1.0}]


# ---- the page, in headless Chromium ----------------------------------------------------------

def test_language_model_views_in_the_browser(browser: Any, server: DashboardServer, runs: Runs,
                                             tmp_path: Path) -> None:
    from selenium.webdriver.support.ui import Select

    assert open_page(browser, server.url) == "ready"
    pick(browser, runs.ga["run_id"], runs.npo["run_id"])
    sa, sb = runs.arrays(runs.ga), runs.arrays(runs.npo)
    side = {"original": sa, "a": sa, "b": sb, "oracle": sa}
    find, find_all = browser.find_element, browser.find_elements
    # the B picker offers the language-model runs on this corpus only
    offered = {v for group in options(browser, "run-b").values() for v in group}
    assert offered == {"@oracle", "@original", runs.npo["run_id"], runs.other["run_id"]}
    for view in ("view-truth", "view-answers", "view-people", "view-layer", "view-attack"):
        assert find("id", view).is_displayed(), view
    for view in ("view-class", "view-instance"):
        assert not find("id", view).is_displayed(), view

    # truth ratios: three CDFs of every question, and the KS statistics and p-values
    n = len(sa["forget/question"])
    curves = find_all("css selector", "#truth-cdf path")
    assert sorted(c.get_attribute("data-model") for c in curves) == ["a", "b", "oracle"]
    assert {c.get_attribute("data-n") for c in curves} == {str(n)}
    oracle = sa["oracle/forget/truth_ratio"].astype(np.float64)
    for key, s in (("a", sa), ("b", sb)):
        want = ks_2samp(s["unlearned/forget/truth_ratio"].astype(np.float64), oracle)
        row = f'#truth-ks tr[data-model="{key}"]'
        assert value(browser, row + " .stat") == pytest.approx(want.statistic, abs=1e-12)
        assert value(browser, row + " .p") == pytest.approx(want.pvalue, rel=1e-9)
        gap = find("css selector", f'#truth-cdf line[data-gap="{key}"]')
        assert float(gap.get_attribute("data-statistic")) == pytest.approx(want.statistic)

    # answers: every forget question, each model's answer as the sidecar holds it
    rows = find_all("css selector", "#answers tbody tr")
    assert len(rows) == n
    for j in (0, n - 1):
        for col, role in COLUMNS.items():
            td = find("css selector", f'#answers tr[data-question="{j}"] td[data-col="{col}"]')
            assert td.get_attribute("textContent") == side[col][f"{role}/forget/answer"][j]
            assert td.get_attribute("data-exact") == str(int(side[col][f"{role}/forget/exact"][j]))
    exact_a, exact_b = sa["unlearned/forget/exact"], sb["unlearned/forget/exact"]
    assert value(browser, '#answers tfoot td[data-col="original"]') == sa[
        "original/forget/exact"].sum()
    Select(find("id", "answers-filter")).select_by_value("differ")
    assert len(find_all("css selector", "#answers tbody tr")) == int(np.sum(exact_a != exact_b))
    Select(find("id", "answers-filter")).select_by_value("all")

    # forgetting per person: exact match (%) counted here from the sidecars
    for person in runs.pair.data.people["forget"]:
        at = np.isin(sa["forget/person"], [person.id])
        for col, role in COLUMNS.items():
            css = f'#people tr[data-person="{person.id}"] td[data-what="exact"][data-col="{col}"]'
            want = 100 * np.mean(side[col][f"{role}/forget/exact"][at])
            assert value(browser, css) == pytest.approx(want)

    # layer CKA across the blocks, and the attack's AUC
    for k, name in enumerate(sa["layers"]):
        css = f'#cka tr[data-layer="{name}"] td[data-pair="a_oracle"]'
        want = _hsic_cka(sa[f"unlearned/layer/{k}"], sa[f"oracle/layer/{k}"])
        assert value(browser, css) == pytest.approx(want, rel=1e-9)
    assert "forget questions" in find("id", "cka-probe-set").text
    f, h = sb["unlearned/mia/forget"], sb["unlearned/mia/holdout"]
    assert value(browser, "#auc-b") == pytest.approx(
        roc_auc_score(np.r_[np.ones(len(f)), np.zeros(len(h))], np.r_[f, h]), abs=1e-12)

    shot = tmp_path / "dashboard-lm.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_old_record_views_in_the_browser(browser: Any, server: DashboardServer,
                                         runs: Runs) -> None:
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
    for view in ("view-answers", "view-people", "view-layer"):
        note = browser.find_element("css selector", f"#{view} .unavailable")
        assert note.is_displayed() and "was recorded before runs saved" in note.text, view
    curves = browser.find_elements("css selector", "#truth-cdf path")
    assert len(curves) == 3  # truth ratios were always saved: the KS view draws
