"""``obliviate report``: built from real tiny runs, parsed back with html.parser, checked
against the records and sidecars it was built from."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import roc_auc_score

from conftest import untrained_lm_pair
from obliviate.cli import main
from obliviate.runner import RunSpec, Trained, Workspace, run
from obliviate.storage import sidecar as sc
from obliviate.storage.store import Store, sqlite_url
from obliviate.views.report import SECTIONS

# ---- a tiny DOM from the stdlib parser -------------------------------------------------


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        out = []
        for c in self.children:
            if isinstance(c, Node):
                if (tag is None or c.tag == tag) and all(
                        c.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items()):
                    out.append(c)
                out += c.all(tag, **attrs)
        return out

    def one(self, tag: str | None = None, **attrs: str) -> Node:
        found = self.all(tag, **attrs)
        assert len(found) == 1, (tag, attrs, len(found))
        return found[0]


class _Tree(HTMLParser):
    VOID = {"meta", "br", "img", "input", "link", "hr"}

    def __init__(self) -> None:
        super().__init__()
        self.root = Node("root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(text: str) -> Node:
    t = _Tree()
    t.feed(text)
    t.close()
    assert t.stack == [t.root], "unclosed elements"
    return t.root


def value(td: Node) -> float | None:
    return None if td.attrs["data-value"] == "" else float(td.attrs["data-value"])


# ---- real runs -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tiny_class: Trained, tmp_path_factory: pytest.TempPathFactory,
         ) -> tuple[Workspace, list[tuple[dict[str, Any], Path]]]:
    ws = Workspace(tmp_path_factory.mktemp("report") / "home")
    out = [run(RunSpec(m, "class:3", model="mlp", use_preset=False, overrides=o), ws,
               trained=tiny_class, progress=False)
           for m, o in (("ga", {}), ("rl", {"epochs": 1}), ("ft", {"epochs": 1}))]
    out.append(run(RunSpec("ga", "people:0.34", "people-tiny", 0, overrides={"epochs": 1}),
                   ws, trained=untrained_lm_pair(), progress=False))
    return ws, out


@pytest.fixture(scope="module")
def report(runs: tuple[Workspace, list[tuple[dict[str, Any], Path]]],
           tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Node]:
    ws, _ = runs
    out = tmp_path_factory.mktemp("out") / "report.html"
    assert main(["--home", str(ws.home), "report", str(ws.runs_dir), "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    return text, parse(text)


def test_every_section_is_present_with_a_heading(report: tuple[str, Node]) -> None:
    _, dom = report
    sections = dom.all("section")
    assert [s.attrs["id"] for s in sections] == list(SECTIONS)
    for s in sections:
        assert s.all("h2") and s.all("h2")[0].text().strip()


def test_self_contained_nothing_to_fetch(report: tuple[str, Node]) -> None:
    text, dom = report
    assert "http://" not in text and "https://" not in text
    assert not dom.all("script") and not dom.all("link") and not dom.all("img")
    assert len(dom.all("svg")) >= 10 and dom.all("style")


def test_leaderboard_numbers_are_the_records(runs: Any, report: tuple[str, Node]) -> None:
    _, out = runs
    board = report[1].one("section", id="leaderboard")
    for record, _ in out:
        lm = record["scenario"]["kind"] == "lm"
        names = ("Forget quality", "Model utility") if lm else ("UA", "RA", "TA", "MIA-Eff",
                                                                 "Avg.Gap")
        method = record["method"]["name"]
        table = board.one("table", data_table=f"leaderboard {record['scenario']['name']} · "
                          f"forget {record['scenario']['forget']}"
                          + (" · language model" if lm else ""))
        for role, who in (("unlearned", method), ("oracle", "oracle"), ("original", "original")):
            tr = table.one("tr", data_role=role, data_method=who)
            for name in names:
                assert value(tr.one("td", data_metric=name)) == record["metrics"][name][role]
        tr = table.one("tr", data_role="unlearned", data_method=method)
        assert value(tr.one("td", data_metric="seconds")) == record["efficiency"][
            "unlearn_seconds"]


def test_tradeoff_and_efficiency_rows(runs: Any, report: tuple[str, Node]) -> None:
    _, out = runs
    dom = report[1]
    for record, _ in out:
        rid, m, e = record["run_id"], record["metrics"], record["efficiency"]
        if record["scenario"]["kind"] == "lm":
            tr = dom.one("section", id="lm-tradeoff").one("tr", data_run=rid)
            assert value(tr.one("td", data_metric="Forget quality")) == m["Forget quality"][
                "unlearned"]
        else:
            tr = dom.one("section", id="tradeoff").one("tr", data_run=rid)
            assert value(tr.one("td", data_metric="UA")) == m["UA"]["unlearned"]
            assert value(tr.one("td", data_metric="TA")) == m["TA"]["unlearned"]
        tr = dom.one("section", id="efficiency").one("tr", data_run=rid)
        for k in ("unlearn_seconds", "retrain_seconds", "forward", "backward"):
            assert value(tr.one("td", data_metric=k)) == e[k]
    assert dom.one("section", id="tradeoff").all("tr", data_front="1")  # a front exists


def test_per_class_accuracy_is_the_records(runs: Any, report: tuple[str, Node]) -> None:
    _, out = runs
    section = report[1].one("section", id="per-class")
    for record, _ in out:
        if record["scenario"]["kind"] == "lm":
            continue
        block = section.one("div", data_run=record["run_id"])
        for role in sc.ROLES:
            tr = block.one("tr", data_role=role)
            for c, want in zip(record["scenario"]["classes"],
                               record["per_class_accuracy"][role], strict=True):
                assert value(tr.one("td", data_cls=str(c))) == want


def test_roc_auc_equals_sklearn_on_the_sidecar(runs: Any, report: tuple[str, Node]) -> None:
    _, out = runs
    section = report[1].one("section", id="mia")
    for record, path in out:
        a = sc.read_sidecar(path)
        lm = record["scenario"]["kind"] == "lm"
        block = section.one("div", data_run=record["run_id"])
        for role in sc.ROLES:
            if lm:
                m, n = a[sc.mia_key(role, "forget")], a[sc.mia_key(role, "holdout")]
            else:
                m, n = a[sc.confidence_key(role, "forget")], a[sc.confidence_key(role, "test")]
            want = roc_auc_score(np.r_[np.ones(len(m)), np.zeros(len(n))], np.r_[m, n])
            got = value(block.one("td", data_role=role, data_auc="1"))
            assert got == pytest.approx(want, abs=1e-12)
            if lm:  # the same Min-K% scores the evaluation's attack ranked
                assert got == pytest.approx(record["metrics"]["MIA AUC Min-K% (40%)"][role])


def test_truth_ratio_ks_and_examples(runs: Any, report: tuple[str, Node]) -> None:
    _, out = runs
    dom = report[1]
    record, path = next(r for r in out if r[0]["scenario"]["kind"] == "lm")
    a = sc.read_sidecar(path)
    p = dom.one("section", id="truth-ratio").one("p", data_run=record["run_id"])
    want = ks_2samp(a[sc.truth_ratio_key("unlearned")], a[sc.truth_ratio_key("oracle")])
    assert float(p.attrs["data-ks-pvalue"]) == pytest.approx(want.pvalue, rel=1e-12)
    assert float(p.attrs["data-ks-statistic"]) == pytest.approx(want.statistic, rel=1e-12)
    assert float(p.attrs["data-ks-pvalue"]) == pytest.approx(
        record["metrics"]["Forget quality"]["unlearned"], rel=1e-6)
    rows = dom.one("section", id="examples").all("tr", data_run=record["run_id"])
    assert len(rows) == len(record["lm"]["examples"]) >= 1
    for tr, ex in zip(rows, record["lm"]["examples"], strict=True):
        for k in ("question", "answer", *sc.ROLES):
            assert tr.one("td", data_field=k).text() == ex[k]


def test_attacks_absent_then_rendered(runs: Any, report: tuple[str, Node],
                                      tmp_path: Path) -> None:
    assert "No attacks were run" in report[1].one("section", id="attacks").text()
    _, out = runs
    record, path = out[0]
    rec = copy.deepcopy(record)
    rec["method"]["name"] = "<b>ga</b>"  # escaped, never markup
    rec["attacks"] = {"relearn": {
        "metric": "UA", "unit": "%", "higher_is_better": True, "params": {"steps": 5},
        "variants": {"5 steps": {"before": {"unlearned": 100.0, "oracle": 100.0},
                                 "after": {"unlearned": 12.5, "oracle": 97.0},
                                 "verdict": "recovered"}}},
        "shadow": {"metric": "U-LiRA / challenge score", "unit": "%", "params": {"k": 4},
                   "values": {"U-LiRA accuracy": 93.25}, "ideal": {"U-LiRA accuracy": 50.0}}}
    (tmp_path / path.name).write_text(json.dumps(rec))
    shutil.copy(path.parent / rec["sidecar"]["file"], tmp_path)
    html = tmp_path / "r.html"
    assert main(["report", str(tmp_path / path.name), "-o", str(html)]) == 0
    text = html.read_text()
    assert "<b>ga</b>" not in text and "&lt;b&gt;ga&lt;/b&gt;" in text
    tr = parse(text).one("section", id="attacks").one("tr", data_attack="relearn",
                                                       data_variant="5 steps")
    assert value(tr.one("td", data_role="unlearned", data_when="before")) == 100.0
    assert value(tr.one("td", data_role="unlearned", data_when="after")) == 12.5
    assert value(tr.one("td", data_role="oracle", data_when="after")) == 97.0
    assert tr.one("td", data_verdict="1").text() == "recovered"
    score = parse(text).one("section", id="attacks").one("tr", data_attack="shadow")
    assert value(score.one("td", data_score="U-LiRA accuracy")) == 93.25
    assert "50" in score.text()  # the ideal beside it


def test_runs_named_by_id_from_runs_dir_and_store(runs: Any, tmp_path: Path) -> None:
    ws, out = runs
    (record, path), (record2, path2) = out[0], out[1]
    html = tmp_path / "r.html"
    assert main(["--home", str(ws.home), "report", record["run_id"], "-o", str(html)]) == 0
    dom = parse(html.read_text())
    assert [li.attrs["data-run"] for li in dom.all("li")] == [record["run_id"]]
    # A run only the store knows: its record lives outside the home's runs directory.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for f in (path2, path2.parent / record2["sidecar"]["file"]):
        shutil.copy(f, elsewhere)
    home = tmp_path / "home2"
    home.mkdir()
    Store(sqlite_url(home / "runs.sqlite")).add(record2, elsewhere / path2.name)
    assert main(["--home", str(home), "report", record2["run_id"], str(path), "-o",
                 str(html)]) == 0
    assert {li.attrs["data-run"] for li in parse(html.read_text()).all("li")} == {
        record["run_id"], record2["run_id"]}


def _error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("obliviate: error: ") and err.count("\n") == 1, err
    return err


def test_bad_inputs_are_one_line_errors(runs: Any, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    ws, out = runs
    record, path = out[0]
    o = str(tmp_path / "r.html")
    home = ["--home", str(ws.home)]
    assert "no-such.json" in _error([*home, "report", str(tmp_path / "no-such.json"), "-o", o],
                                    capsys)
    assert "unknown run 'nope'" in _error([*home, "report", "nope", "-o", o], capsys)
    (tmp_path / "empty").mkdir()
    assert "holds no run records" in _error([*home, "report", str(tmp_path / "empty"), "-o",
                                             o], capsys)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert "bad.json" in _error(["report", str(bad), "-o", o], capsys)
    rec = copy.deepcopy(record)
    del rec["efficiency"]["unlearn_seconds"]
    bad.write_text(json.dumps(rec))
    assert "efficiency.unlearn_seconds" in _error(["report", str(bad), "-o", o], capsys)
    assert "does not exist" in _error(["report", str(path), "-o",
                                       str(tmp_path / "no" / "r.html")], capsys)
    assert "is a directory" in _error(["report", str(path), "-o", str(tmp_path)], capsys)
    assert not (tmp_path / "r.html").exists()  # nothing half-written
    # A sidecar that is gone, or holds none of its arrays, costs its run's plots only: the
    # report is written and says which file and why.
    copied = tmp_path / "copied"
    copied.mkdir()
    shutil.copy(path, copied)
    assert main(["report", str(copied), "-o", o]) == 0
    text = (tmp_path / "r.html").read_text()
    assert record["sidecar"]["file"] in text and "is missing" in text
    empty = copied / record["sidecar"]["file"]
    rec = copy.deepcopy(record)
    rec["sidecar"] = sc.write_sidecar(empty, {"layers": np.array(["x"])})
    (copied / path.name).write_text(json.dumps(rec))
    assert main(["report", str(copied), "-o", o]) == 0
    assert "lacks" in (tmp_path / "r.html").read_text()
    assert main(["report", "-o", o]) == 2  # RUNS is required (argparse's own one line)
    assert capsys.readouterr().err.startswith("obliviate: error:")


def test_stray_json_in_a_records_directory_is_skipped(runs: Any, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      caplog: pytest.LogCaptureFixture) -> None:
    ws, out = runs
    record, path = out[0]
    d = tmp_path / "mixed"
    d.mkdir()
    for f in (path, path.parent / record["sidecar"]["file"]):
        shutil.copy(f, d)
    (d / "notes.json").write_text('{"note": "not a run"}')
    (d / "broken.json").write_text("{oops")
    html = tmp_path / "r.html"
    assert main(["report", str(d), "-o", str(html)]) == 0
    assert f"skipping {d / 'broken.json'}: not JSON" in caplog.messages[0]
    assert caplog.messages[1].startswith(f"skipping {d / 'notes.json'}: run record lacks "
                                         "schema, run_id")
    err = capsys.readouterr().err.splitlines()  # as the user sees them, one line each
    assert [line.split(":")[0:2] for line in err] == [["obliviate", " skipping " + str(
        d / "broken.json")], ["obliviate", " skipping " + str(d / "notes.json")]]
    assert [li.attrs["data-run"] for li in parse(html.read_text()).all("li")] == [
        record["run_id"]]
    # A stray JSON named on its own is still an error, and the message names it.
    assert "notes.json" in _error(["report", str(d / "notes.json"), "-o", str(html)], capsys)
    (d / path.name).unlink()  # nothing but strays: a clear error, not an empty report
    assert main(["report", str(d), "-o", str(tmp_path / "none.html")]) == 2
    *skips, last = capsys.readouterr().err.splitlines()
    assert len(skips) == 2 and all(s.startswith("obliviate: skipping ") for s in skips)
    assert last.startswith("obliviate: error: no runs to report")
    assert "2 JSON file(s) skipped" in last
    assert not (tmp_path / "none.html").exists()


def test_report_package_does_not_import_torch() -> None:
    code = "import sys, obliviate.views.report; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
