"""Deletion with a guarantee (issue 13): every exact deletion checked against an independent
computation from scratch (numpy / scikit-learn / scipy), never against the code itself."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import Ridge

from obliviate.guaranteed.analytic import (
    AnalyticConfig,
    AnalyticHead,
    AnalyticModel,
    featurize,
)


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
