"""The regression kind: data, forget selectors, the task's quantities, the metrics against
scikit-learn / scipy / hand-worked numbers, the verdict, and a run end to end through the CLI
(record, store, report, dashboard) with bad input answered on one line (exit 2).

Methods (Blindspot, Gaussian fine-tuning, every generic method on regression) are in
test_regression_methods.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score, roc_curve

from obliviate.errors import ForgetSetError
from obliviate.metrics.regression import (
    gap,
    loss_mia_efficacy,
    loss_threshold,
    mae,
    mse,
    normalised,
    r2,
    wasserstein,
)
from obliviate.scenarios import SCENARIOS
from obliviate.tasks.regression.data import (
    diabetes_pool,
    make_regression_pool,
    plant_outliers,
    synthetic_pool,
)
from obliviate.tasks.regression.forget import canonical_forget
from obliviate.tasks.regression.scenario import RegressionScenario
from obliviate.tasks.regression.task import RegressionTask
from obliviate.types import Batch, TrainRecipe
from obliviate.views.verdict import verdict

TINY = RegressionScenario(
    name="outliers-tiny", description="150 synthetic rows, 10% outliers (tests)",
    load=lambda: synthetic_pool(n=150), outlier_share=0.1,
    recipe=TrainRecipe(epochs=150, lr=0.01, batch_size=32, weight_decay=0.0))
DIABETES = SCENARIOS["diabetes"]
OUTLIERS = SCENARIOS["outliers"]


# ---------------------------------------------------------------------------------------------
# data

def test_diabetes_pool_is_sklearns_with_standardised_features() -> None:
    d, pool = load_diabetes(), diabetes_pool()
    assert pool.x.shape == (442, 10) and np.array_equal(pool.y, d.target)
    np.testing.assert_allclose(pool.x.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(pool.x.std(axis=0), 1.0, atol=1e-5)
    z = (d.data - d.data.mean(0)) / d.data.std(0)
    np.testing.assert_allclose(pool.x, z, atol=1e-5)


def test_duplicate_inputs_keep_the_first_or_go_when_targets_disagree() -> None:
    """Rows 0..5; row 3 copies row 1 with the same target (kept once), row 4 copies row 2 with
    another target (both dropped): rows 0, 1, 5 remain."""
    x = np.arange(12, dtype=np.float64).reshape(6, 2)
    y = np.array([0.0, 1.0, 2.0, 1.0, 9.0, 5.0])
    x[3], x[4] = x[1], x[2]
    pool = make_regression_pool("dups", x, y)
    assert pool.row.tolist() == [0, 1, 5] and pool.y.tolist() == [0.0, 1.0, 5.0]
    assert pool.n_source_rows == 6


def test_plant_outliers_moves_a_share_of_the_given_rows_by_3_to_5_sd() -> None:
    y = np.random.default_rng(0).normal(size=200)
    positions = np.arange(0, 200, 2)  # the even rows only
    out, planted = plant_outliers(y, positions, 0.1, (3.0, 5.0), np.random.default_rng(1))
    assert len(planted) == 10 and set(planted) <= set(positions)
    moved = np.abs(out - y) / np.std(y[positions])
    assert np.all((moved[planted] >= 3.0) & (moved[planted] <= 5.0))
    assert np.count_nonzero(out != y) == 10


def test_scenario_splits_standardise_targets_and_plant_only_in_training_rows() -> None:
    data = OUTLIERS.build("outliers", 0)
    train = np.concatenate([data.forget.ids, data.retain.ids])
    assert len(np.intersect1d(train, data.test.ids)) == 0
    assert set(data.planted) == set(data.forget.ids.tolist())  # "outliers" forgets exactly them
    assert len(data.planted) == round(0.05 * len(train))
    t = torch.cat([data.forget.targets, data.retain.targets]).double()
    assert abs(float(t.mean())) < 1e-5 and abs(float(t.std(correction=0)) - 1.0) < 1e-5
    # The test rows hold the clean function (no planted outlier moved them).
    pool = data.pool
    np.testing.assert_allclose(data.y_mean + data.y_std * data.test.targets.double().numpy(),
                               pool.y[data.test.ids], rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# forget sets

def test_random_forget_is_a_seeded_fraction_of_the_training_rows() -> None:
    a, b, c = (DIABETES.build("random:0.1", s) for s in (0, 0, 1))
    n_train = len(a.forget) + len(a.retain)
    assert len(a.forget) == round(0.1 * n_train) == 31
    assert np.array_equal(a.forget.ids, b.forget.ids)
    assert not np.array_equal(a.forget.ids, c.forget.ids)


def test_range_forget_is_every_training_target_in_the_closed_range() -> None:
    data = DIABETES.build("range:200:250", 0)
    pool = diabetes_pool()
    train = np.sort(np.concatenate([data.forget.ids, data.retain.ids]))
    expect = train[(pool.y[train] >= 200) & (pool.y[train] <= 250)]
    assert np.array_equal(np.sort(data.forget.ids), expect)
    assert 200.0 in pool.y[expect] or 250.0 in pool.y[expect]  # the ends are included
    assert data.forget_spec == "range:200.0:250.0"
    assert canonical_forget("range: 2.5e2 : inf") == "range:250.0:inf"
    assert canonical_forget(" outliers ") == "outliers"


def test_indices_forget_names_source_rows(tmp_path: Path) -> None:
    train_rows = np.sort(np.concatenate([d.ids for d in (DIABETES.build("random:0.1", 0).forget,
                                                         DIABETES.build("random:0.1", 0).retain)]))
    f = tmp_path / "rows.txt"
    f.write_text(f"{train_rows[0]}, {train_rows[5]}\n{train_rows[9]}")
    data = DIABETES.build(f"indices:{f}", 0)
    assert data.forget.ids.tolist() == [train_rows[0], train_rows[5], train_rows[9]]


@pytest.mark.parametrize(("spec", "needle"), [
    ("range:500:600", "no training target (disease progression) lies in [500, 600]"),
    ("range:300:100", "LO (300) is above HI (100)"),
    ("range:5", "expected range:LO:HI"),
    ("range:a:b", "expected range:LO:HI"),
    ("outliers", "planted no outliers"),
    ("class:3", "expected one of"),
    ("random:1.5", "must be in (0, 1)"),
    ("range:-inf:inf", "the whole training set"),
])
def test_bad_forget_sets_name_the_problem(spec: str, needle: str) -> None:
    with pytest.raises(ForgetSetError) as e:
        DIABETES.build(spec, 0)
    assert needle in str(e.value)


# ---------------------------------------------------------------------------------------------
# the task

def _linear(w: list[float], b: float) -> torch.nn.Module:
    m = torch.nn.Linear(len(w), 1)
    with torch.no_grad():
        m.weight.copy_(torch.tensor([w]))
        m.bias.fill_(b)
    return m


def test_task_quantities_by_hand() -> None:
    """f(x) = 2 x0 - x1 + 0.5: on x = (1, 0), (0, 2) the predictions are 2.5 and -1.5; with
    targets 3 and -1 the squared errors are 0.25 and 0.25, the log-likelihoods -0.125."""
    task, model = RegressionTask(), _linear([2.0, -1.0], 0.5)
    batch = Batch(torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.tensor([3.0, -1.0]))
    torch.testing.assert_close(task.per_sample_loss(model, batch), torch.tensor([0.25, 0.25]))
    torch.testing.assert_close(task.log_likelihood(model, batch), torch.tensor([-0.125, -0.125]))
    torch.testing.assert_close(task.logits(model, batch), torch.tensor([[2.5], [-1.5]]))
    alt = RegressionTask(mean=1.0, std=2.0).alternative_targets(
        model, batch, torch.Generator().manual_seed(7))
    z = torch.randn(2, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(alt.targets, 1.0 + 2.0 * z)
    with pytest.raises(ValueError, match=r"must output \(batch, 1\)"):
        task.per_sample_loss(torch.nn.Linear(2, 3), batch)


# ---------------------------------------------------------------------------------------------
# metrics

def test_errors_match_sklearn() -> None:
    rng = np.random.default_rng(3)
    y, p = rng.normal(size=50) * 40 + 150, rng.normal(size=50) * 40 + 150
    assert mse(y, p).value == pytest.approx(mean_squared_error(y, p))
    assert mae(y, p).value == pytest.approx(mean_absolute_error(y, p))
    assert r2(y, p) == pytest.approx(r2_score(y, p))
    np.testing.assert_allclose(mae(y, p).per_sample, np.abs(y - p))
    assert r2(np.full(4, 2.0), np.arange(4.0)) is None  # undefined, not sklearn's 0.0
    assert normalised(7.7, 77.0) == pytest.approx(10.0)


def test_loss_threshold_is_the_youden_point_of_sklearns_roc_curve() -> None:
    """An independent route: sklearn's ROC over the score -loss (member iff -loss >= t), the
    threshold with the largest TPR - FPR (the first, i.e. the smallest loss, among ties)."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        m = np.round(rng.exponential(0.5, size=40), 1)  # rounding makes ties
        n = np.round(rng.exponential(1.0, size=35), 1)
        y = np.r_[np.ones(len(m)), np.zeros(len(n))]
        fpr, tpr, thr = roc_curve(y, -np.r_[m, n], drop_intermediate=False)
        best = -thr[1:][int(np.argmax((tpr - fpr)[1:]))]  # thr[0] is +inf: no member at all
        assert loss_threshold(m, n) == pytest.approx(best)


def test_loss_mia_efficacy_by_hand() -> None:
    """Members (all of D_r: |D_r| = |D_t|) have losses 0 and 0.1, non-members 1 and 2. Over
    the losses 0, 0.1, 1, 2: TPR 0.5, 1, 1, 1 and FPR 0, 0, 0.5, 1, so J is largest (1) at
    tau = 0.1. Forget losses 0.05 (member) and 1.5 (non-member): MIA-Efficacy 50%."""
    v = loss_mia_efficacy(np.array([0.0, 0.1]), np.array([1.0, 2.0]), np.array([0.05, 1.5]),
                          seed=0)
    assert v.value == 50.0 and v.per_sample.tolist() == [0.0, 1.0]
    # Monotone in the loss: squaring (or any increasing map) changes nothing.
    sq = loss_mia_efficacy(np.array([0.0, 0.01]), np.array([1.0, 4.0]), np.array([0.0025, 2.25]),
                           seed=0)
    assert sq.value == 50.0


def test_wasserstein_by_hand() -> None:
    """Equal sizes: W1 is the mean gap between sorted values: |1-2| + |3-3| + |8-4| = 5, / 3."""
    assert wasserstein(np.array([3.0, 1.0, 8.0]), np.array([4.0, 2.0, 3.0])) == pytest.approx(5 / 3)


def test_gap_by_hand() -> None:
    u = {"nMAE (D_f)": 30.0, "nMAE (D_r)": 10.0, "nMAE (D_t)": 60.0, "MIA-Eff (loss)": 20.0}
    o = {"nMAE (D_f)": 50.0, "nMAE (D_r)": 12.0, "nMAE (D_t)": 59.0, "MIA-Eff (loss)": 40.0}
    assert gap(u, o) == pytest.approx((20 + 2 + 1 + 20) / 4)
    with pytest.raises(ValueError, match="lack MIA-Eff"):
        gap({k: v for k, v in u.items() if k != "MIA-Eff (loss)"}, o)


# ---------------------------------------------------------------------------------------------
# the verdict

def _record(forget: float, retain: float, test: float, floor: float | None) -> dict:
    """nMAE of the unlearned model; the oracle's are 50 / 10 / 60, the noise floor's forget
    error ``floor`` (its retain and test errors equal the oracle's)."""
    def entry(u: float, o: float, ind: float | None) -> dict:
        return {"unit": "%", "original": 0.0, "unlearned": u, "oracle": o,
                **({} if ind is None else {"independent": ind})}
    return {"scenario": {"kind": "regression"}, "metrics": {
        "nMAE (D_f)": entry(forget, 50.0, floor), "nMAE (D_r)": entry(retain, 10.0,
                                                                      None if floor is None
                                                                      else 10.0),
        "nMAE (D_t)": entry(test, 60.0, None if floor is None else 60.0)}}


def test_regression_verdict_rules() -> None:
    assert verdict(_record(47.0, 10.0, 60.0, 46.0)).ok  # 3 below, floor 4 away
    v = verdict(_record(40.0, 10.0, 60.0, 46.0))
    assert v.forgetting == "not reached" and "-10.00 points" in v.line
    assert verdict(_record(60.0, 10.0, 60.0, 49.0)).forgetting == "over-shot"
    v = verdict(_record(50.0, 11.5, 60.5, None))  # no floor: 1 point of tolerance
    assert v.forgetting == "reached" and v.utility == "lost" and "D_r error 1.50" in v.line


def test_the_kind_is_one_package_with_its_pieces() -> None:
    """As test_layout checks for the other kinds (DESIGN.md, "Layout")."""
    pkg = Path(__file__).parent.parent / "src" / "obliviate" / "tasks" / "regression"
    assert {"__init__.py", "task.py", "scenario.py", "training.py", "evaluation.py",
            "probe.py"} <= {p.name for p in pkg.glob("*.py")}
    from obliviate.kinds import DEFAULT_SCENARIO

    assert DEFAULT_SCENARIO["regression"] == "diabetes"
    assert SCENARIOS["diabetes"].kind == SCENARIOS["outliers"].kind == "regression"
