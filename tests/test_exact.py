"""Deletion with a guarantee (issue 13): every exact deletion checked against an independent
computation from scratch (numpy / scikit-learn / scipy), never against the code itself."""

from __future__ import annotations

import hashlib
import math
import pickle

import numpy as np
import pytest
import torch
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.datasets import load_digits
from sklearn.linear_model import Ridge

from obliviate.guaranteed import sisa as sisa_module
from obliviate.guaranteed.analytic import (
    AnalyticConfig,
    AnalyticHead,
    AnalyticModel,
    featurize,
)
from obliviate.guaranteed.certified import (
    CertifiedConfig,
    CertifiedLogistic,
    minimise,
    newton_removal,
)
from obliviate.guaranteed.checkpoints import CheckpointStore
from obliviate.guaranteed.sisa import SISA, SISAConfig, aggregate, layout
from obliviate.tasks.classification.models import build_model
from obliviate.tasks.classification.task import ClassificationTask
from obliviate.types import Split, TrainRecipe


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    d = load_digits()
    return d.data[:600] / 16.0, d.target[:600]


def _ridge_from_scratch(phi: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """(p+1, C) ridge weights with an unpenalised intercept (last row), by numpy.linalg.solve
    of the normal equations on the rows given."""
    u = np.hstack([phi, np.ones((len(phi), 1))])
    penalty = np.diag(np.r_[np.full(phi.shape[1], lam), 0.0])
    return np.linalg.solve(u.T @ u + penalty, u.T @ np.eye(10)[y])


def _sequential_forget(phi: np.ndarray, y: np.ndarray, lam: float,
                       requests: list[np.ndarray]) -> AnalyticHead:
    head = AnalyticHead.fit(phi, y, np.arange(len(y)), 10, lam)
    for rows in requests:
        head.forget(phi[rows], y[rows], rows)
    return head


def _requests(n: int) -> list[np.ndarray]:
    order = np.random.default_rng(7).permutation(n)
    return [order[:1], order[1:11], order[11:48], order[48:49], order[49:120]]  # k = 1..71


@pytest.mark.parametrize("features", ["raw", "random"])
def test_acu_sequential_downdates_equal_ridge_from_scratch(
        digits: tuple[np.ndarray, np.ndarray], features: str) -> None:
    """Five requests (1, 10, 37, 1, 71 rows) downdated one after another equal the ridge
    solution solved from scratch on the 480 retained rows, and scikit-learn's Ridge with
    fit_intercept=True (unpenalised intercept, as ours) on the same rows, to 1e-8."""
    x, y = digits
    cfg = AnalyticConfig(ridge=0.5, features=features, width=256)
    phi = featurize(x, cfg, seed=0)
    head = _sequential_forget(phi, y, cfg.ridge, _requests(len(y)))
    keep = np.setdiff1d(np.arange(len(y)), np.concatenate(_requests(len(y))))
    assert len(keep) == 480 and head.ids == set(keep.tolist())
    expected = _ridge_from_scratch(phi[keep], y[keep], cfg.ridge)
    np.testing.assert_allclose(head.weights, expected, rtol=0, atol=1e-8)
    sk = Ridge(alpha=cfg.ridge, fit_intercept=True, solver="cholesky").fit(
        phi[keep], np.eye(10)[y[keep]])
    np.testing.assert_allclose(head.weights[:-1], sk.coef_.T, rtol=0, atol=1e-8)
    np.testing.assert_allclose(head.weights[-1], sk.intercept_, rtol=0, atol=1e-8)


def test_acu_comparison_catches_a_wrong_downdate(digits: tuple[np.ndarray, np.ndarray]) -> None:
    """The check above can fail: a downdate with the wrong sign (learning the rows a second
    time instead of forgetting them), or one that updates R but not Q, lands far from the
    retained rows' solution."""
    x, y = digits
    phi = featurize(x, AnalyticConfig(features="raw"), seed=0)
    rows = np.arange(40)
    keep = np.arange(40, len(y))
    expected = _ridge_from_scratch(phi[keep], y[keep], 1.0)
    wrong_sign = AnalyticHead.fit(phi, y, np.arange(len(y)), 10, 1.0)
    wrong_sign._woodbury(np.hstack([phi[rows], np.ones((40, 1))]), np.eye(10)[y[rows]], 1.0)
    r_only = AnalyticHead.fit(phi, y, np.arange(len(y)), 10, 1.0)
    q_before = r_only.Q.copy()
    r_only.forget(phi[rows], y[rows], rows)
    r_only.Q = q_before
    for bad in (wrong_sign, r_only):
        assert np.abs(bad.weights - expected).max() > 1e-3


def test_acu_learn_then_forget_is_the_original_head(digits: tuple[np.ndarray, np.ndarray]) -> None:
    """The RLS update (learn) and the downdate (forget) are inverse: adding 50 rows by
    Woodbury equals fitting on all of them; forgetting them again equals the first fit."""
    x, y = digits
    phi = featurize(x, AnalyticConfig(features="raw"), seed=0)
    head = AnalyticHead.fit(phi[:550], y[:550], np.arange(550), 10, 1.0)
    first = head.weights.copy()
    head.learn(phi[550:], y[550:], np.arange(550, 600))
    np.testing.assert_allclose(head.weights, _ridge_from_scratch(phi, y, 1.0), atol=1e-8)
    head.forget(phi[550:], y[550:], np.arange(550, 600))
    np.testing.assert_allclose(head.weights, first, atol=1e-8)


def test_acu_refuses_rows_it_does_not_hold(digits: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = digits
    model = AnalyticModel.train(x[:100], y[:100], np.arange(100), 10,
                                AnalyticConfig(width=64), seed=0)
    model.delete(x[:3], y[:3], np.arange(3))
    with pytest.raises(ValueError, match="not held"):
        model.delete(x[:1], y[:1], np.arange(1))  # already forgotten
    with pytest.raises(ValueError, match="not held"):
        model.delete(x[:1], y[:1], np.array([500]))  # never learned
    with pytest.raises(ValueError, match="every row"):
        model.delete(x[3:100], y[3:100], np.arange(3, 100))


def test_acu_deletion_states_exact_guarantee(digits: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = digits
    model = AnalyticModel.train(x, y, np.arange(len(y)), 10, AnalyticConfig(width=64), seed=0)
    d = model.delete(x[:5], y[:5], np.arange(5))
    assert d.guarantee == "exact" and d.removed == 5
    assert d.evidence["held_rows"] == len(y) - 5 and d.evidence["retained_rows_read"] == 0
    assert (model.predict(x[5:]) == y[5:]).mean() > 0.9


def test_acu_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="ridge"):
        AnalyticConfig(ridge=0.0)
    with pytest.raises(ValueError, match="features"):
        AnalyticConfig(features="pixels")


# ---------------------------------------------------------------- SISA
RECIPE = TrainRecipe(epochs=2, lr=0.05, batch_size=32)
SISA_CFG = SISAConfig(shards=3, slices=3, epochs_per_slice=1)


def _digit_split(n: int = 360) -> Split:
    d = load_digits()
    x = torch.from_numpy((d.images[:n] / 16.0).astype(np.float32))[:, None]
    # Ids are not positions: a gap and an offset catch any confusion between the two.
    ids = np.r_[np.arange(n // 2), np.arange(n // 2) + 1000 + n]
    return Split("train", x, torch.from_numpy(d.target[:n]), ids)


def _sisa(split: Split, store: CheckpointStore, cfg: SISAConfig = SISA_CFG) -> SISA:
    def factory(seed: int) -> torch.nn.Module:
        return build_model("mlp", (1, 8, 8), 10, seed)

    s = SISA(split, cfg, RECIPE, ClassificationTask(10), factory, "mlp", store, seed=0)
    s.fit()
    return s


def _state(s: SISA) -> dict[str, torch.Tensor]:
    return s.ensemble().state_dict()


def test_sisa_deletion_is_bit_identical_to_training_without_the_rows(tmp_path) -> None:
    """Two requests (3 rows, then 2) against SISA trained from scratch, in an empty
    checkpoint directory, on the 355 retained rows with the same seed: torch.equal on every
    tensor of every shard. Training from scratch *with* the rows differs, so the comparison
    can fail."""
    split = _digit_split()
    live = _sisa(split, CheckpointStore(tmp_path / "live"))
    before = {k: v.clone() for k, v in _state(live).items()}
    requests = [np.array([3, 50, 1000 + 360 + 7]), np.array([120, 1000 + 360 + 100])]
    for ids in requests:
        d = live.delete(ids)
        assert d.guarantee == "exact"
    gone = np.isin(split.ids, np.concatenate(requests))
    scratch = _sisa(split.subset(np.nonzero(~gone)[0]), CheckpointStore(tmp_path / "scratch"))
    after, fresh = _state(live), _state(scratch)
    assert after.keys() == fresh.keys()
    for k in after:
        assert torch.equal(after[k], fresh[k]), k
    assert any(not torch.equal(before[k], fresh[k]) for k in fresh)


def test_sisa_retrains_only_affected_shards_from_the_right_slice(tmp_path, monkeypatch) -> None:
    """A deleted row in shard s, slice r costs exactly R - r slice trainings of shard s
    (counted by wrapping the training loop); the other shards' tensors are untouched, and
    the checkpoints that held the row are gone from disk."""
    split = _digit_split()
    store = CheckpointStore(tmp_path / "ck")
    live = _sisa(split, store)
    before = {k: v.clone() for k, v in _state(live).items()}
    shard, slc = layout(split.ids, 3, 3, 0)
    # A row in the middle slice, found from the layout function (a hash of seed and id).
    row = int(np.nonzero(slc == 1)[0][0])
    s, r = int(shard[row]), 1
    calls: list[int] = []
    real_train = sisa_module.train

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(len(args[1]))  # type: ignore[arg-type]
        return real_train(*args, **kwargs)  # type: ignore[arg-type]

    old_keys = set(store.keys())
    monkeypatch.setattr(sisa_module, "train", counting)
    d = live.delete(np.array([split.ids[row]]))
    assert len(calls) == 3 - r
    assert d.evidence["retrained_shards"] == [s]
    assert d.evidence["shards"][str(s)]["reused_slices"] == r
    assert len(d.evidence["shards"][str(s)]["purged_checkpoints"]) == 3 - r
    assert not set(d.evidence["shards"][str(s)]["purged_checkpoints"]) & store.keys()
    assert len(old_keys - store.keys()) == 3 - r
    for k, v in _state(live).items():
        changed = not torch.equal(v, before[k])
        assert changed == k.startswith(f"shards.{s}."), k
    # Evidence: the shard's row-set hash is sha256 of its sorted surviving ids.

    mine = np.sort(split.ids[(shard == s) & (np.arange(len(split)) != row)]).astype(np.int64)
    assert d.evidence["shards"][str(s)]["rows_sha256"] == hashlib.sha256(mine.tobytes()).hexdigest()


def test_sisa_checkpoints_are_reused_and_safetensors_only(tmp_path, monkeypatch) -> None:
    """A second SISA over the same rows and store trains nothing (every key exists) and
    loads through safetensors: pickle is never touched."""
    split = _digit_split(120)
    store = CheckpointStore(tmp_path / "ck")
    first = _sisa(split, store)

    def no_pickle(*_a: object, **_k: object) -> None:
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "loads", no_pickle)
    monkeypatch.setattr(torch, "load", no_pickle)
    again = _sisa(split, store)
    assert again.trained_slices == 0
    for a, b in zip(_state(first).values(), _state(again).values(), strict=True):
        assert torch.equal(a, b)
    assert all(p.read_bytes()[8:9] == b"{" for p in store.root.glob("*.safetensors"))


def test_sisa_aggregation_by_hand() -> None:
    """Shard probabilities for one sample, 3 classes:
    shard 0 [0.6, 0.3, 0.1], shard 1 [0.1, 0.5, 0.4], shard 2 [0.2, 0.45, 0.35].
    Mean = [0.3, 0.41667, 0.28333] -> class 1. Votes: argmaxes 0, 1, 1 -> [1, 2, 0].
    Second sample: [0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.4, 0.5, 0.1]: mean
    [0.46667, 0.45, 0.08333] -> class 0, but the vote is [1, 2, 0] -> class 1."""
    p = torch.tensor([[[0.6, 0.3, 0.1], [0.9, 0.05, 0.05]],
                      [[0.1, 0.5, 0.4], [0.1, 0.8, 0.1]],
                      [[0.2, 0.45, 0.35], [0.4, 0.5, 0.1]]], dtype=torch.float64)
    mean = aggregate(p, "mean").exp()
    torch.testing.assert_close(mean, torch.tensor([[0.3, 0.41666667, 0.28333333],
                                                   [0.46666667, 0.45, 0.08333333]],
                                                  dtype=torch.float64))
    assert aggregate(p, "mean").argmax(1).tolist() == [1, 0]
    assert aggregate(p, "vote").tolist() == [[1, 2, 0], [1, 2, 0]]
    assert aggregate(p, "vote").argmax(1).tolist() == [1, 1]


def test_sisa_refuses_bad_input(tmp_path) -> None:
    split = _digit_split(20)
    with pytest.raises(ValueError, match="shards=0"):
        SISAConfig(shards=0)
    with pytest.raises(ValueError, match="aggregation"):
        SISAConfig(aggregation="median")
    with pytest.raises(ValueError, match="more than the 20"):
        _sisa(split, CheckpointStore(tmp_path), SISAConfig(shards=21, slices=1))
    live = _sisa(split, CheckpointStore(tmp_path), SISAConfig(shards=2, slices=1,
                                                              epochs_per_slice=1))
    with pytest.raises(ValueError, match="no rows"):
        live.delete(np.array([], dtype=np.int64))
    with pytest.raises(ValueError, match="not in the training set"):
        live.delete(np.array([999]))


# ---------------------------------------------------------------- certified removal


def _loss_and_grad(w: np.ndarray, x: np.ndarray, y: np.ndarray, lam: float,
                   b: np.ndarray) -> tuple[float, np.ndarray]:
    """The paper's L_b(w; D) = sum log(1 + exp(-y w.x)) + lam n / 2 |w|^2 + b.w, and its
    gradient, written here from the formula (scipy.special.expit for the sigmoid)."""
    z = y * (x @ w)
    loss = np.logaddexp(0.0, -z).sum() + 0.5 * lam * len(y) * w @ w + b @ w
    grad = x.T @ (-y * expit(-z)) + lam * len(y) * w + b
    return float(loss), grad


def _problem(seed: int, n: int = 60, d: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    x /= np.maximum(1.0, np.linalg.norm(x, axis=1, keepdims=True))  # ||x_i|| <= 1
    y = np.where(x @ rng.normal(size=d) + 0.3 * rng.normal(size=n) > 0, 1.0, -1.0)
    return x, y, rng.normal(0.0, 0.5, d)


def test_certified_newton_step_lands_near_the_retrained_minimiser() -> None:
    """n = 40, d = 3, lam = 0.01, removing 2 rows. scipy's BFGS minimises the paper's loss on
    D (checking our Newton training) and on D' (the exact retrain with the same b). One
    Newton step from w* moves at least 20x closer to the retrained minimiser than w* is."""
    x, y, b = _problem(1, n=40, d=3)
    lam = 0.01
    w_star = minimise(x, y, lam, b)
    full = minimize(_loss_and_grad, np.zeros(3), args=(x, y, lam, b), jac=True,
                    method="BFGS", options={"gtol": 1e-12})
    np.testing.assert_allclose(w_star, full.x, atol=1e-6)
    keep = np.arange(2, 40)
    retrain = minimize(_loss_and_grad, np.zeros(3), args=(x[keep], y[keep], lam, b),
                       jac=True, method="BFGS", options={"gtol": 1e-12}).x
    w_minus, _ = newton_removal(w_star, x[keep], y[keep], x[:2], y[:2], lam)
    assert np.linalg.norm(w_minus - retrain) < np.linalg.norm(w_star - retrain) / 20
    assert np.linalg.norm(w_star - retrain) > 1e-3  # the removal does move the minimiser


@pytest.mark.parametrize("seed", range(10))
def test_certified_bound_is_an_upper_bound_on_the_residual(seed: int) -> None:
    """On random problems (||x|| <= 1), three sequential removals of 1, 3 and 5 rows: after
    each, the accumulated data-dependent bound is >= the true gradient residual
    ||grad L_b(w^-; D')|| computed from the loss's formula above."""
    x, y, b = _problem(seed)
    lam = 0.005 * (1 + seed % 3)
    w = minimise(x, y, lam, b)
    alive, spent = np.ones(len(y), dtype=bool), 0.0
    for k in (1, 3, 5):
        gone = np.nonzero(alive)[0][:k]
        alive[gone] = False
        w, bound = newton_removal(w, x[alive], y[alive], x[gone], y[gone], lam)
        spent += bound
        _, residual = _loss_and_grad(w, x[alive], y[alive], lam, b)
        assert np.linalg.norm(residual) <= spent
        assert np.linalg.norm(residual) > 0  # logistic loss: the step is not exact


def test_certified_budget_formula_and_retrain_trigger(digits: tuple[np.ndarray, np.ndarray],
                                                      ) -> None:
    """beta = sigma eps / sqrt(2 log(1.5 / delta)): sigma 1, eps 1, delta 1e-4 gives
    1 / sqrt(2 * 9.6158) = 0.22804. A generous budget absorbs single-row removals; a
    budget below the first step's bound retrains at once, and the retrained model is the
    exact minimiser on the remaining rows (gradient ~ 0 for its new b)."""
    assert CertifiedConfig().budget == pytest.approx(1 / math.sqrt(2 * math.log(15000.0)))
    assert CertifiedConfig().budget == pytest.approx(0.22804, abs=1e-5)
    x, y = digits
    x, y = x[:300], y[:300]
    ids = np.arange(300)
    roomy = CertifiedLogistic(x, y, ids, 10, CertifiedConfig(epsilon=1e3), seed=0)
    w0 = roomy.W.copy()
    d = roomy.delete(np.array([0]))
    assert d.guarantee == "(epsilon, delta)-certified" and not d.evidence["retrained"]
    assert d.evidence["spent"] == pytest.approx(d.evidence["step_bounds"])
    assert not np.allclose(roomy.W, w0)
    tight = CertifiedLogistic(x, y, ids, 10, CertifiedConfig(epsilon=1e-9), seed=0)
    d = tight.delete(np.array([0]))
    assert d.evidence["retrained"] and d.evidence["retrains"] == 1
    assert d.evidence["spent"] == [0.0] * 10
    for k in range(10):
        yk = np.where(tight.y == k, 1.0, -1.0)
        _, g = _loss_and_grad(tight.W[k], tight.x, yk, tight.cfg.lam, tight.B[k])
        assert np.linalg.norm(g) < 1e-8
    assert (tight.predict(x[1:]) == y[1:]).mean() > 0.85


def test_certified_retrains_exactly_when_the_sum_would_pass_the_budget(
        digits: tuple[np.ndarray, np.ndarray]) -> None:
    """Budget set to 2.5 x the first single-row step's largest bound: the running sum is
    checked against beta before each step, and a retrain happens on the first request whose
    step would take some class past it (recomputed here from the recorded step bounds)."""
    x, y = digits
    x, y = x[:200], y[:200]
    probe = CertifiedLogistic(x, y, np.arange(200), 10, CertifiedConfig(), seed=0)
    first = max(probe.delete(np.array([0])).evidence["step_bounds"])
    # sigma such that budget = 2.5 * first
    c = math.sqrt(2 * math.log(1.5 / 1e-4))
    cfg = CertifiedConfig(sigma=2.5 * first * c)
    model = CertifiedLogistic(x, y, np.arange(200), 10, cfg, seed=0)
    spent = np.zeros(10)
    for i in range(12):
        d = model.delete(np.array([i]))
        step = np.array(d.evidence["step_bounds"])
        would = bool((spent + step > cfg.budget).any())
        assert d.evidence["retrained"] == would, i
        spent = np.zeros(10) if would else spent + step
        assert np.array(d.evidence["spent"]) == pytest.approx(spent)
        assert max(d.evidence["spent"]) <= cfg.budget
    assert model.retrains >= 1


def test_certified_refuses_bad_input(digits: tuple[np.ndarray, np.ndarray]) -> None:
    with pytest.raises(ValueError, match="delta"):
        CertifiedConfig(delta=1.5)
    with pytest.raises(ValueError, match="epsilon"):
        CertifiedConfig(epsilon=0.0)
    x, y = digits
    model = CertifiedLogistic(x[:50], y[:50], np.arange(50), 10, CertifiedConfig(), seed=0)
    with pytest.raises(ValueError, match="distinct training rows"):
        model.delete(np.array([], dtype=np.int64))
    model.delete(np.array([3]))
    with pytest.raises(ValueError, match="distinct training rows"):
        model.delete(np.array([3]))


# ---------------------------------------------------------------- obliviate exact (CLI)
