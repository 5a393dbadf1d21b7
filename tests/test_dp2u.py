"""DP2Unlearning (issue 13): DP-SGD through opacus, then fine-tuning on the retained rows.
The accounting is checked against opacus's accountants called here independently, the step
count by hand, and the fine-tune against a forget split of NaNs it must never read."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from opacus.accountants import PRVAccountant, RDPAccountant
from sklearn.datasets import load_digits

from obliviate.cli import main
from obliviate.guaranteed import dp2u
from obliviate.guaranteed.dp2u import DP2UConfig, accounting, dp_train, group_bound
from obliviate.methods.finetune import FinetuneConfig
from obliviate.tasks.classification.models import build_model
from obliviate.tasks.classification.task import ClassificationTask
from obliviate.types import Split, TrainRecipe, UnlearnData


def _split(name: str, lo: int, hi: int) -> Split:
    d = load_digits()
    x = torch.from_numpy((d.data[lo:hi] / 16.0).astype(np.float32))
    return Split(name, x, torch.from_numpy(d.target[lo:hi]), np.arange(lo, hi))


@pytest.mark.parametrize(("accountant", "independent"), [("rdp", RDPAccountant),
                                                          ("prv", PRVAccountant)])
def test_accounting_matches_the_opacus_accountant_called_independently(accountant: str,
                                                                      independent) -> None:
    """1,000 rows, expected batch 50: sample rate 50 / 1000 = 0.05, int(1 / 0.05) = 20
    batches an epoch, 3 epochs = 60 steps. The accountant, fed (noise, 0.05, 60) here, gives
    the recorded epsilon, at most the target 4 and within opacus's tolerance of it; 5% less
    noise would overspend the target (the multiplier is the smallest that meets it)."""
    cfg = DP2UConfig(epsilon=4.0, epochs=3, batch_size=50, accountant=accountant)
    a = accounting(cfg, 1000)
    assert (a["sample_rate"], a["steps"], a["delta"]) == (0.05, 60, 1e-5)
    acc = independent()
    acc.history = [(a["noise_multiplier"], 0.05, 60)]
    eps = acc.get_epsilon(1e-5)
    assert eps == pytest.approx(a["epsilon"], rel=1e-9)
    assert 4.0 - 0.05 <= eps <= 4.0
    less = independent()
    less.history = [(0.95 * a["noise_multiplier"], 0.05, 60)]
    assert less.get_epsilon(1e-5) > 4.0


def test_group_privacy_by_hand() -> None:
    """k = 3 rows at (0.5, 1e-5): (1.5, 3 e^{1.0} 1e-5 = 8.1548e-5)."""
    g = group_bound(0.5, 1e-5, 3)
    assert g["epsilon"] == 1.5 and g["delta"] == pytest.approx(3 * np.e * 1e-5, rel=1e-12)
    assert group_bound(8.0, 1e-5, 200)["delta"] is None  # past any float: said, not inf


def test_dp_train_takes_the_accounted_steps_and_is_seeded() -> None:
    """300 rows, batch 30: 10 batches an epoch, 2 epochs = 20 steps in opacus's own engine
    history, at the recorded noise multiplier and rate. Same seed: the same weights; another
    seed: other weights (Poisson sampling and the noise are seeded)."""
    split = _split("train", 0, 300)
    cfg = DP2UConfig(epsilon=2.0, epochs=2, batch_size=30)
    models = [build_model("mlp", (64,), 10, 0) for _ in range(3)]
    start = {k: v.clone() for k, v in models[0].state_dict().items()}
    stats = [dp_train(m, split, cfg, seed=s) for m, s in zip(models, (0, 0, 1), strict=True)]
    a = accounting(cfg, 300)
    assert stats[0]["steps"] == 20 == a["steps"]
    assert stats[0]["history"] == [[a["noise_multiplier"], 0.1, 20.0]]
    assert stats[0]["epsilon"] == pytest.approx(a["epsilon"], rel=1e-9)
    w = [m.state_dict() for m in models]
    assert all(torch.equal(w[0][k], w[1][k]) for k in w[0])
    assert not all(torch.equal(w[0][k], w[2][k]) for k in w[0])
    assert not all(torch.equal(w[0][k], start[k]) for k in start)
    assert not hasattr(next(models[0].parameters()), "grad_sample")  # opacus left no trace


def test_finetune_never_reads_a_forget_row() -> None:
    """The forget split is all NaN: had the fine-tune read one row, NaN would reach every
    weight. The weights stay finite and change; a NaN retain split (the control) does make
    them NaN, so the check can fail."""
    task = ClassificationTask(10)
    retain = _split("retain", 0, 200)
    poison = _split("forget", 200, 220)
    poison = Split("forget", torch.full_like(poison.inputs, float("nan")), poison.targets,
                   poison.ids)
    model = build_model("mlp", (64,), 10, 0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = dp2u.unlearn(model, UnlearnData(poison, retain, TrainRecipe()),
                       FinetuneConfig(epochs=1), task=task, seed=0).model
    assert all(torch.isfinite(v).all() for v in out.state_dict().values())
    assert not all(torch.equal(v, before[k]) for k, v in out.state_dict().items())
    bad = Split("retain", torch.full_like(retain.inputs, float("nan")), retain.targets,
                retain.ids)
    control = dp2u.unlearn(build_model("mlp", (64,), 10, 0),
                           UnlearnData(poison, bad, TrainRecipe()), FinetuneConfig(epochs=1),
                           task=task, seed=0).model
    assert not all(torch.isfinite(v).all() for v in control.state_dict().values())


def test_cli_run_dp2u_records_the_privacy_accounting(capsys, tmp_path) -> None:
    code = main(["--home", str(tmp_path), "--quiet", "run", "--train",
                 "dp2u:epochs=2,epsilon=4", "--method", "dp2u", "--set", "epochs=1",
                 "--forget", "random:0.02", "--model", "mlp", "--no-noise-floor", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rec = json.loads(out)
    g, p = rec["guarantee"], rec["guarantee"]["privacy"]
    assert g["guarantee"] == "(epsilon, delta)-certified" and g["per"] == "row"
    n = rec["scenario"]["sizes"]["forget"] + rec["scenario"]["sizes"]["retain"]
    assert p["rows"] == n and p["steps"] == 2 * int(n / 64) and p["accountant"] == "rdp"
    acc = RDPAccountant()
    acc.history = [(p["noise_multiplier"], 64 / n, p["steps"])]
    assert acc.get_epsilon(1e-5) == pytest.approx(p["epsilon"], rel=1e-9) and p["epsilon"] <= 4
    assert g["group"]["rows"] == rec["scenario"]["sizes"]["forget"]
    assert rec["metrics"]["TA"]["oracle"] > 0 and rec["method"]["name"] == "dp2u"


@pytest.mark.parametrize(("train", "message"), [
    ("dp2u:delta=2", "delta=2.0 (want in (0, 1))"),
    ("dp2u:accountant=moments", "accountant='moments' (valid: rdp, prv, gdp)"),
    ("dp2u:epsilon=0", "epsilon=0.0 (want > 0)"),
])
def test_cli_dp2u_bad_input_is_one_line_exit_2(capsys, tmp_path, train: str,
                                               message: str) -> None:
    code = main(["--home", str(tmp_path), "--quiet", "run", "--train", train, "--method",
                 "dp2u", "--forget", "random:0.02"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err
