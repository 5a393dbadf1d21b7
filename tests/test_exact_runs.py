"""Guaranteed methods as ordinary runs (issue 13, ``guaranteed/adapter.py``): ``obliviate run
--train NAME:... --method NAME`` and ``obliviate exact`` write RunRecords beside the oracle,
the model cache round-trips a guaranteed model, and the report lists them beside
approximate methods. Checked against the same method trained from scratch by the test
itself, never against the record alone."""

from __future__ import annotations

import copy
import json
import re

import numpy as np
import pytest
import torch

from obliviate.cli import main
from obliviate.errors import ObliviateError
from obliviate.guaranteed.adapter import DeleteConfig, Guaranteed, trained_with, unlearn
from obliviate.guaranteed.checkpoints import MemoryStore
from obliviate.guaranteed.sisa import SISA, SISAConfig
from obliviate.scenarios import SCENARIOS
from obliviate.storage.cache import ModelCache
from obliviate.storage.store import Store, sqlite_url
from obliviate.tasks.classification.models import build_model
from obliviate.views.dashboard.compare import compare
from obliviate.views.dashboard.data import RunSource

TINY = {"sisa": "shards=2,slices=2,epochs_per_slice=1",
        "s3t": "shards=2,slices=2,orders=2,width=64,epochs_per_layer=1",
        "acu": "width=128", "certified": "sigma=10"}  # sigma 10: Newton steps and a retrain
SISA_TINY = ["--train", f"sisa:{TINY['sisa']}", "--method", "sisa"]
COMMON = ["--forget", "random:0.02", "--model", "mlp", "--no-noise-floor"]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("home")


def _cli(capsys: pytest.CaptureFixture[str], home, *args: str) -> tuple[int, str, str]:
    code = main(["--home", str(home), "--quiet", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _exp(name: str):
    exp = SCENARIOS["digits"].build("random:0.02", 0, model="mlp")
    return trained_with(exp, f"{name}:{TINY[name]}", name)


def test_run_train_sisa_is_exact_beside_the_ordinary_oracle_and_listed_in_the_report(
        capsys, home, tmp_path) -> None:
    """``obliviate run --train sisa:... --method sisa``: the unlearned ensemble's test
    accuracy equals that of SISA trained here from scratch on the retained rows (same seed;
    argmax by numpy), the oracle is the ordinary retrain (the same values as an approximate
    run's on the same forget set), the record carries the guarantee and its evidence, and
    the store and the HTML report list both runs, the SISA one marked as exact deletion."""
    code, out, err = _cli(capsys, home, "run", *SISA_TINY, *COMMON, "--json")
    assert code == 0, err
    rec = json.loads(out)
    g = rec["guarantee"]
    assert rec["schema"] == "obliviate.run/2" and rec["method"]["name"] == "sisa"
    assert g["guarantee"] == "exact" and g["verification"]["bit_identical_to_scratch"] is True
    assert rec["scenario"]["trained_with"]["config"]["shards"] == 2
    assert sum(r["removed"] for r in g["requests"]) == rec["scenario"]["sizes"]["forget"]
    assert g["requests"][0]["evidence"]["retrained_shards"]
    d = SCENARIOS["digits"].build("random:0.02", 0, model="mlp")

    def factory(seed: int) -> torch.nn.Module:
        return build_model("mlp", d.pool.input_shape, d.n_classes, seed)

    scratch = SISA(d.retain, SISAConfig(shards=2, slices=2, epochs_per_slice=1), d.recipe,
                   d.task, factory, "digits/mlp", MemoryStore(), seed=0)
    scratch.fit()
    with torch.no_grad():
        pred = scratch.ensemble()(d.test.inputs).numpy().argmax(axis=1)
    ta = 100.0 * float((pred == d.test.targets.numpy()).mean())
    assert rec["metrics"]["TA"]["unlearned"] == pytest.approx(ta, abs=1e-9)
    code, out, err = _cli(capsys, home, "run", "--method", "ga", "--set", "epochs=1",
                          *COMMON, "--json")
    assert code == 0, err
    ga = json.loads(out)
    assert "guarantee" not in ga
    for m in ("UA", "RA", "TA"):
        assert ga["metrics"][m]["oracle"] == rec["metrics"][m]["oracle"]
    code, out, err = _cli(capsys, home, "runs")
    assert code == 0 and rec["run_id"] in out and ga["run_id"] in out, err
    html = tmp_path / "report.html"
    code, out, err = _cli(capsys, home, "report", rec["run_id"], ga["run_id"], "-o", str(html))
    assert code == 0, err
    page = html.read_text()
    rows = re.findall(r'data-method="(\w+)"[^>]*><td class="text">([^<]*)<', page)
    labels = dict(rows)
    assert labels["sisa"].endswith("exact deletion)") and "deletion" not in labels["ga"], rows
    assert [m for m, _ in rows[:2]] == ["oracle", "original"]
    # The dashboard compares the two: every classifier view answers (layer CKA says why not:
    # an ensemble has no layers in common with the MLP).
    source = RunSource(Store(sqlite_url(home / "runs.sqlite")))
    out = compare(source, rec["run_id"], ga["run_id"])
    assert out["summary"] and "unavailable" not in out["confusion"], out
    assert "unavailable" in out["layers"] and "unavailable" not in out["mia"]


def test_cli_exact_acu_and_certified_records_state_guarantee_and_evidence(capsys,
                                                                           home) -> None:
    code, out, err = _cli(capsys, home, "exact", "--method", "acu", *COMMON, "--requests",
                          "3", "--set", "width=128", "--json")
    assert code == 0, err
    rec = json.loads(out)
    g = rec["guarantee"]
    assert rec["schema"] == "obliviate.run/2" and g["guarantee"] == "exact"
    assert [r["guarantee"] for r in g["requests"]] == ["exact"] * 3
    assert g["verification"]["max_abs_weight_difference_to_scratch"] < 1e-8
    code, out, err = _cli(capsys, home, "exact", "--method", "certified", *COMMON,
                          "--no-verify", "--json")
    assert code == 0, err
    rec = json.loads(out)
    g = rec["guarantee"]
    assert g["guarantee"] == "(epsilon, delta)-certified" and "verification" not in g
    ev = g["requests"][0]["evidence"]
    assert ev["epsilon"] == 1.0 and ev["delta"] == 1e-4 and 0 <= ev["budget_used"] <= 1


def test_sequence_of_requests_on_a_sisa_model_is_exact_after_each(capsys, home) -> None:
    code, out, err = _cli(capsys, home, "sequence", *SISA_TINY, *COMMON, "--requests", "2",
                          "--json")
    assert code == 0, err
    records = json.loads(out)
    assert [r["sequence"]["request"] for r in records] == [1, 2]
    for r in records:
        assert r["guarantee"]["verification"]["bit_identical_to_scratch"] is True
    assert records[1]["guarantee"]["requests_before"] == 1


@pytest.mark.parametrize("name", list(TINY))
def test_the_model_cache_round_trips_a_guaranteed_model_after_deletions(tmp_path,
                                                                        name: str) -> None:
    """Saved by the model cache after one request and loaded into a fresh model: equal
    scores (torch.equal), and a second request honoured by both gives equal evidence and
    equal scores. A deep copy (as the runner makes) deletes without touching the source."""
    exp = _exp(name)
    model = exp.new_model("original")
    exp.train(model, "original", progress=False)
    forget, x = exp.forget, exp.test.inputs
    model.delete(forget.subset(np.arange(3)))
    cache = ModelCache(tmp_path)
    cache.save("k", model, {})
    back = exp.new_model("original")
    assert cache.load("k", back) is not None
    assert torch.equal(back(x), model(x))
    before = model(x).clone()
    twin = copy.deepcopy(model)
    twin.delete(forget.subset(np.arange(3, 6)))
    assert torch.equal(model(x), before)
    a, b = model.delete(forget.subset(np.arange(3, 6))), back.delete(forget.subset(
        np.arange(3, 6)))
    assert {**a.evidence, "seconds": 0} == {**b.evidence, "seconds": 0}
    assert torch.equal(back(x), model(x)) and torch.equal(twin(x), model(x))


@pytest.mark.parametrize(("args", "message"), [
    (("--train", "sisa", "--method", "ga"), "is honoured by --method sisa"),
    (("--method", "sisa",), "add --train sisa[:KEY=VALUE,...]"),
    (("--train", "bagging", "--method", "sisa"), "trains one of acu, sisa, s3t, certified"),
    (("--train", "sisa:shards", "--method", "sisa"), "'shards' is not KEY=VALUE"),
    (("--train", "sisa:shards=0", "--method", "sisa"), "shards=0"),
    (("--train", "sisa:shard=2", "--method", "sisa"), "no field 'shard'"),
    (("--train", "sisa", "--method", "sisa", "--set", "requests=0"), "requests=0"),
    (("--train", "acu", "--method", "acu", "--attack", "relearn"), "attacks are not run on"),
])
def test_run_train_bad_input_is_one_line_exit_2(capsys, tmp_path, args: tuple[str, ...],
                                                message: str) -> None:
    code, out, err = _cli(capsys, tmp_path, "run", "--forget", "random:0.01", *args)
    assert code == 2 and message in err and err.count("\n") == 1, err


def test_exact_refuses_an_empty_forget_set_and_a_model_not_trained_for_it() -> None:
    exp = _exp("acu")
    model = exp.new_model("original")
    exp.train(model, "original", progress=False)
    empty = exp.with_forget([], "nothing").unlearn_data()
    with pytest.raises(ObliviateError, match="is empty"):
        unlearn(model, empty, DeleteConfig(), task=exp.task, seed=0)
    with pytest.raises(ObliviateError, match="add --train NAME"):
        unlearn(build_model("mlp", (64,), 10, 0), exp.unlearn_data(), DeleteConfig(),
                task=exp.task, seed=0)
    assert isinstance(model, Guaranteed)

