"""The recommendation kind end to end on a tiny generated scenario (40 users x 60 items, 8
epochs): exact retraining, every registered method's contract, the CLI's run / sequence /
attack, the record, the store, the report, the dashboard's /api/compare, a user's
interactions CSV, and bad input (one line, exit 2)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from dashboard_helpers import get, serve
from obliviate.config import build_config
from obliviate.methods import METHODS
from obliviate.methods.retrain import RetrainConfig
from obliviate.presets import preset_for
from obliviate.runner import RunSpec, Trained, Workspace, prepare
from obliviate.scenarios import SCENARIOS
from obliviate.storage.records import read_record
from obliviate.tasks.recommendation.interactions import Generator
from obliviate.tasks.recommendation.scenario import RecData, RecScenario
from obliviate.types import TrainRecipe
from test_cli import cli, one_line_error

TINY = RecScenario(
    name="recsys-tiny", description="40 users x 60 items, 8 epochs: the tests' size",
    generator=Generator(n_users=40, n_items=60, min_per_user=8, mean_per_user=14, n_features=4),
    recipe=TrainRecipe(epochs=8, lr=0.5, batch_size=64, momentum=0.9, weight_decay=1e-4))
NAMES = sorted(n for n, s in METHODS.items() if "recommendation" in s.tasks)
# Measured on recsys-tiny: bad_teacher's lr 1e-4 and SSD's alpha 10 leave the forget loss
# where it was (0.5371 -> 0.5371; no weight dampened); lr 0.05 -> 0.571, alpha 2 -> 0.574
# (the oracle's: 0.716).
TINY_SETTINGS: dict[str, dict[str, object]] = {"bad_teacher": {"lr": 0.05},
                                               "ssd": {"alpha": 2.0}}


@pytest.fixture(scope="module", autouse=True)
def tiny_registered() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(SCENARIOS, "recsys-tiny", TINY)  # run() finds scenarios by name
        yield


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rec") / "home"


@pytest.fixture(scope="module")
def trained(home: Path) -> Trained:
    return prepare(RunSpec("ft", "random:0.2", "recsys-tiny", 0), Workspace(home),
                   progress=False)


def forget_loss(model: torch.nn.Module, data: RecData) -> float:
    with torch.no_grad():
        return float(data.task.per_sample_loss(model, next(data.forget.batches(10**6))).mean())


def test_rows_never_leak_between_training_and_evaluation(trained: Trained) -> None:
    d = trained.data
    assert isinstance(d, RecData)
    assert np.array_equal(np.union1d(d.forget.ids, d.retain.ids), d.train_ids)
    assert not np.intersect1d(d.forget.ids, d.retain.ids).size
    assert not np.intersect1d(d.train_ids, d.test.ids).size  # held out: evaluation only
    pairs = set(zip(d.data.user[d.train_ids], d.data.item[d.train_ids], strict=True))
    assert not pairs & set(zip(d.test.inputs.tolist(), d.test.targets.tolist(), strict=True))


def test_retrain_rebuilds_the_oracle_exactly(trained: Trained) -> None:
    """Same initialisation (reset_parameters under the seed), same loop, same batches."""
    d = trained.data
    got = METHODS["retrain"].unlearn(copy.deepcopy(trained.original), d.unlearn_data(),
                                     RetrainConfig(), task=d.task, seed=0).model
    for (k, a), b in zip(got.state_dict().items(), trained.oracle.state_dict().values(),
                         strict=True):
        assert torch.equal(a.cpu(), b.cpu()), k


@pytest.mark.parametrize("name", NAMES)
def test_every_method_is_seeded_moves_the_model_and_raises_the_forget_loss(
        name: str, trained: Trained) -> None:
    """The contract of tests/test_contract.py on a ranking task, with the scenario's presets
    where there are any and ``TINY_SETTINGS`` here: the same seed gives the same weights,
    some weight changes, and the forget interactions' BPR loss rises above the original's."""
    d = trained.data
    assert isinstance(d, RecData)
    spec = METHODS[name]
    cfg = build_config(spec.config, {**preset_for("recsys-small", name, d.forget_spec),
                                     **TINY_SETTINGS.get(name, {})})
    a, b = (spec.unlearn(copy.deepcopy(trained.original), d.unlearn_data(), cfg, task=d.task,
                         seed=0).model for _ in range(2))
    for (k, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y), f"{name}: {k} differs between two runs with seed 0"
    before = dict(trained.original.named_parameters())
    assert any(not torch.equal(p, before[k]) for k, p in a.named_parameters()), name
    assert forget_loss(a, d) > forget_loss(trained.original, d), name


def test_run_record_store_report_dashboard(home: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(home, "run", "--scenario", "recsys-tiny", "--forget", "user:3,5", "--method",
               "mmrecun", "--attack", "relearn") == 0
    out = capsys.readouterr().out
    assert "forget user:3,5" in out and "Rec.Gap (pp)" in out and "verdict: forgetting" in out
    path = Path(out.strip().splitlines()[-1].removeprefix("record: "))
    record = read_record(path)
    sc = record["scenario"]
    assert sc["kind"] == "recommendation" and sc["forget_units"] == ["3", "5"]
    assert sc["sizes"]["forget"] == len(sc["forget_rows"]) > 0
    m = record["metrics"]
    for name in ("Recall@10", "Recall@20", "NDCG@10", "NDCG@20", "Forget rank",
                 "Hit@20 (D_f)", "MIA-Eff (interactions)", "Rec.Gap"):
        assert {"original", "unlearned", "oracle", "independent"} <= set(m[name]), name
    assert m["Rec.Gap"]["oracle"] == 0.0
    assert len(m["Recall@20"]["per_sample"]["oracle"]) == sc["sizes"]["test_users"]
    assert record["attacks"]["relearn"]["variants"]["relearn"]["verdict"]
    assert [r["run_id"] for r in Workspace(home).store().list()] == [record["run_id"]]
    html = tmp_path / "r.html"
    assert cli(home, "report", str(path), "-o", str(html)) == 0
    text = html.read_text()
    assert "recommender" in text and 'data-mia="recommendation"' in text and "Rec.Gap" in text
    server = serve(Workspace(home).store())
    srv = next(server)
    try:
        status, body = get(srv, f"/api/compare?a={record['run_id']}&b=@oracle")
    finally:
        next(server, None)
    assert status == 200 and body["kind"] == "recommendation"
    assert {r["metric"] for r in body["summary"]} >= {"Rec.Gap", "Forget rank"}
    assert body["confusion"]["classes"] == 2  # missed / in the top 20
    assert body["mia"]["a"]["auc"] is not None and body["layers"]["rows"]


def test_sequence_of_requests_forgets_users_one_request_at_a_time(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(home, "sequence", "--scenario", "recsys-tiny", "--forget", "user:1,2,4",
               "--method", "mmrecun", "--requests", "3", "--json") == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["sequence"]["forget_so_far"] for r in records] == [1, 2, 3]  # users
    assert records[-1]["scenario"]["sizes"]["forget_users"] == 3
    assert cli(home, "sequence", "--scenario", "recsys-tiny", "--forget", "user:1,2",
               "--method", "mmrecun", "--requests", "2") == 0
    assert "Rec.Gap unl | oracle" in capsys.readouterr().out


def interactions_csv(path: Path) -> Path:
    d = replace(TINY.generator, seed=5).generate()
    names = ["alice", *(f"u{k}" for k in range(1, d.n_users))]
    rows = [f"{names[u]},item{i},{t}" for t, (u, i) in enumerate(zip(d.user, d.item,
                                                                        strict=True))]
    path.write_text("user,item,timestamp\n" + "\n".join(rows) + "\n")
    return path


def test_users_own_interactions_csv(home: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    data = interactions_csv(tmp_path / "inter.csv")
    assert cli(home, "run", "--task", "recommendation", "--data", str(data), "--forget",
               "user:alice", "--method", "ga", "--no-noise-floor", "--json") == 0
    record = json.loads(capsys.readouterr().out)
    assert record["scenario"]["name"] == f"interactions:{data}"
    assert record["scenario"]["forget_units"] == ["alice"]
    assert "latest" in record["scenario"]["split"]


@pytest.mark.parametrize(("argv", "needles"), [
    (["--scenario", "recsys-tiny", "--forget", "user:999"], ["no user '999'", "40 users"]),
    (["--scenario", "recsys-tiny", "--forget", "item:x"], ["no item 'x'"]),
    (["--scenario", "recsys-tiny", "--forget", "class:3"], ["bad forget set 'class:3'",
                                                            "user:U"]),
    (["--task", "recommendation", "--data", "{csv}", "--forget", "user:nobody"],
     ["no user 'nobody' in the interactions", "'alice'"]),
    (["--task", "recommendation", "--data", "{bad}", "--forget", "user:a"],
     ["bad.csv", "lacks the column 'item'"]),
    (["--task", "recommendation", "--data", "{csv}", "--label", "item", "--forget", "user:a"],
     ["--label is for classifier CSVs"]),
    (["--scenario", "recsys-tiny", "--forget", "user:1", "--model", "mlp"],
     ["unknown recommendation model 'mlp'"]),
    (["--scenario", "recsys-tiny", "--forget", "user:1", "--method", "npo"],
     ["'npo' does not support the 'recommendation' task"]),
])
def test_bad_input_is_one_line_exit_2(argv: list[str], needles: list[str], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    good = interactions_csv(tmp_path / "inter.csv")
    (tmp_path / "bad.csv").write_text("user,thing\na,b\n")
    argv = [a.format(csv=good, bad=tmp_path / "bad.csv") for a in argv]
    if "--method" not in argv:
        argv += ["--method", "mmrecun"]
    assert cli(tmp_path / "h", "run", *argv) == 2
    one_line_error(capsys, *needles)
