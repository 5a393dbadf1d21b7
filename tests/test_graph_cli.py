"""The graph kind end to end through ``obliviate.cli.main``: a run on the karate club (its
record, the store, the HTML report, the dashboard's /api/compare), a run with the relearning
attack, a user's own graph directory, and bad input (one line, exit 2)."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dashboard_helpers import get, serve
from obliviate.cli import main
from obliviate.storage.sidecar import read_sidecar
from obliviate.storage.store import Store, sqlite_url
from obliviate.tasks.graph.user import read_graph_dir
from obliviate.views.dashboard import DashboardServer


def one_line_error(capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("obliviate: error:")
    for n in needles:
        assert n in err[0], (n, err[0])
    return err[0]


def _record(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    out = capsys.readouterr().out
    path = next(line.split(": ", 1)[1] for line in out.splitlines()
                if line.startswith("record: "))
    record: dict[str, Any] = json.loads(Path(path).read_text())
    record["_path"] = path
    return record


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("graph-cli") / "home"


@pytest.fixture(scope="module")
def karate_run(home: Path) -> dict[str, Any]:
    out = io.StringIO()  # a module fixture cannot take capsys: read stdout directly
    with contextlib.redirect_stdout(out):
        code = main(["run", "--scenario", "karate", "--forget", "nodes:0.2", "--method", "ft",
                     "--home", str(home), "--quiet"])
    assert code == 0, out.getvalue()
    path = next(line.split(": ", 1)[1] for line in out.getvalue().splitlines()
                if line.startswith("record: "))
    record: dict[str, Any] = json.loads(Path(path).read_text())
    record["_path"] = path
    record["_out"] = out.getvalue()
    return record


def test_a_karate_run_records_the_graph_metrics(karate_run: dict[str, Any],
                                                home: Path) -> None:
    r = karate_run
    assert r["scenario"]["kind"] == "graph" and r["scenario"]["request"] == "nodes"
    assert r["scenario"]["sizes"]["forget"] == 5  # round(0.2 * 24 training nodes)
    m = r["metrics"]
    for name in ("Forget acc", "Retain acc", "Test acc", "Link AUC", "Graph gap", "RTE"):
        assert name in m, name
    for role in ("original", "unlearned", "oracle", "independent"):
        assert m["Forget acc"][role] is not None
    assert m["Graph gap"]["oracle"] == 0.0
    own = [abs(m[k]["unlearned"] - m[k]["oracle"]) for k in ("Forget acc", "Retain acc",
                                                           "Test acc", "Link AUC")]
    assert m["Graph gap"]["unlearned"] == pytest.approx(sum(own) / 4)
    # per-sample correctness averages back to the accuracy
    per = m["Forget acc"]["per_sample"]["unlearned"]
    assert 100 * np.mean(per) == pytest.approx(m["Forget acc"]["unlearned"])
    assert "verdict: forgetting" in r["_out"] and "Graph gap (pp)" in r["_out"]
    assert r["graph"]["forgotten_edges"] == r["scenario"]["sizes"]["forgotten_edges"] > 0
    arrays = read_sidecar(r, Path(r["_path"]).parent)
    assert arrays["ids/forget"].tolist() == sorted(
        int(n) for n in r["scenario"]["forget_units"])
    assert len(arrays["unlearned/links/forgotten"]) == r["graph"]["forgotten_edges"]
    listed = [x for x in Store(sqlite_url(home / "runs.sqlite")).list()
              if x["run_id"] == r["run_id"]]
    assert len(listed) == 1 and listed[0]["scenario"] == "karate"


def test_the_report_shows_a_graph_run(karate_run: dict[str, Any], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.html"
    assert main(["report", karate_run["_path"], "-o", str(out)]) == 0
    html = out.read_text()
    # the graph leaderboard's columns and legend, and the run's per-class accuracy
    assert "link AUC" in html and "link stealing (He et al. 2021)" in html
    assert f'<div data-run="{karate_run["run_id"]}"' in html


@pytest.fixture(scope="module")
def server(karate_run: dict[str, Any], home: Path) -> Iterator[DashboardServer]:
    yield from serve(Store(sqlite_url(home / "runs.sqlite")))


def test_the_dashboard_compares_a_graph_run(karate_run: dict[str, Any],
                                            server: DashboardServer) -> None:
    status, p = get(server, f"/api/compare?a={karate_run['run_id']}&b=@oracle")
    assert status == 200 and p["kind"] == "graph"
    assert p["verdicts"]["a"].startswith("verdict: forgetting")
    arrays = read_sidecar(karate_run, Path(karate_run["_path"]).parent)
    test_pred = arrays["unlearned/test/pred"]
    labels = arrays["label/test"]
    n = int(max(labels.max(), test_pred.max())) + 1
    mat = np.zeros((4, 4), dtype=int)
    np.add.at(mat, (labels, test_pred), 1)
    assert n <= 4 and p["confusion"]["splits"]["test"]["a"] == mat.tolist()
    assert [r["layer"] for r in p["layers"]["rows"]] == ["conv1", "conv2"]
    assert {r["metric"] for r in p["summary"]} >= {"Graph gap", "Link AUC"}


def test_edge_forgetting_with_d2dgn_and_the_relearning_attack(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--scenario", "karate", "--forget", "edges:0.2", "--method", "d2dgn",
                 "--set", "epochs=5", "--attack", "relearn", "--home", str(home), "--quiet"])
    assert code == 0
    r = _record(capsys)
    assert r["scenario"]["request"] == "edges" and r["metrics"]["Link AUC"]["oracle"] is not None
    assert r["scenario"]["sizes"]["forgotten_edges"] == 16  # round(0.2 * 78)
    v = r["attacks"]["relearn"]["variants"]["relearn"]
    assert set(v["after"]) == {"original", "unlearned", "oracle"}


def write_graph(d: Path, nodes: str, edges: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "nodes.csv").write_text(nodes)
    (d / "edges.csv").write_text(edges)
    return d


NODES = "id,f1,f2,label,part\n" + "\n".join(
    f"{n},{i % 3},{(i * 7) % 5},{'x' if i < 6 else 'y'},{'test' if i in (2, 9) else 'train'}"
    for i, n in enumerate("abcdefghijkl"))
PAIRS = list(zip("abcdefghijk", "bcdefghijkl", strict=True))  # a path a-b-...-l
EDGES = "source,target\n" + "\n".join(f"{u},{v}" for u, v in PAIRS)


def test_a_users_graph_is_read_as_documented(tmp_path: Path) -> None:
    g = read_graph_dir(str(write_graph(tmp_path / "g", NODES, EDGES)), None, "part")
    assert g.nodes[:3] == ("a", "b", "c") and g.classes == ("x", "y")
    assert g.edges.tolist() == [[i, i + 1] for i in range(11)]
    f1 = np.array([i % 3 for i in range(12)], dtype=float)
    assert np.allclose(g.x[:, 0], (f1 - f1.mean()) / f1.std())
    assert g.split is not None and g.split[2] == "test" and g.split[0] == "train"
    assert g.edge_types[0] == "x-x" and g.edge_types[5] == "x-y"  # f-g: x then y


def test_a_users_graph_runs_end_to_end(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    typed = "source,target,type\n" + "\n".join(f"{u},{v},kin" for u, v in PAIRS)
    d = write_graph(tmp_path / "g", NODES, typed)
    code = main(["run", "--task", "graph", "--data", str(d), "--split-column", "part",
                 "--forget", "node:a,e", "--method", "ga", "--home", str(tmp_path / "h"),
                 "--quiet", "--no-noise-floor"])
    assert code == 0, capsys.readouterr().err
    r = _record(capsys)
    assert r["scenario"]["name"] == f"sbm:{d}" and r["scenario"]["forget_units"] == ["a", "e"]
    assert r["scenario"]["sizes"]["test"] == 2
    code = main(["run", "--task", "graph", "--data", str(d), "--split-column", "part",
                 "--forget", "edge-type:kin", "--method", "ga", "--home", str(tmp_path / "h"),
                 "--quiet", "--no-noise-floor"])
    assert code == 0, capsys.readouterr().err
    assert _record(capsys)["scenario"]["sizes"]["forgotten_edges"] == 11


@pytest.mark.parametrize(("nodes", "edges", "argv", "needles"), [
    (NODES, EDGES + "\nc,zz", [], ("edges.csv: line 13: node 'zz' is not in nodes.csv",)),
    (NODES, EDGES + "\nc,c", [], ("line 13: a self-loop on node 'c'",)),
    (NODES, EDGES + "\nb,a", [], ("line 13 repeats the edge 'b'-'a' of line 2",)),
    (NODES.replace("b,1,2", "b,1,q"), EDGES, [], ("nodes.csv: line 3, column 'f2': 'q'",)),
    (NODES.replace("\nb,", "\na,"), EDGES, [], ("line 3 repeats node id 'a'",)),
    (NODES, EDGES, ["--forget", "node:zz"], ("node 'zz' is not in the graph",)),
    (NODES, EDGES, ["--forget", "node:c"], ("are test nodes", "c")),
    (NODES, EDGES, ["--forget", "edge:a~c"], ("'a~c' is not in the graph",)),
    (NODES, EDGES, ["--test", "t.txt"], ("--test is for classifier data",)),
    (NODES, EDGES, ["--model", "mlp"], ("graph scenarios train a GCN",)),
])
def test_bad_graph_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     nodes: str, edges: str, argv: list[str],
                                     needles: tuple[str, ...]) -> None:
    d = write_graph(tmp_path / "g", nodes, edges)
    forget = [] if "--forget" in argv else ["--forget", "node:a"]
    split = [] if "--test" in argv else ["--split-column", "part"]
    code = main(["run", "--task", "graph", "--data", str(d), *split, *forget, "--method", "ga",
                 "--home", str(tmp_path / "h"), "--quiet", *argv])
    assert code == 2
    one_line_error(capsys, *needles)


def test_a_missing_graph_directory_is_one_line(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--task", "graph", "--data", str(tmp_path / "nope"), "--forget",
                 "nodes:0.1", "--method", "ga", "--home", str(tmp_path / "h")])
    assert code == 2
    one_line_error(capsys, "does not exist", "nodes.csv and edges.csv")
