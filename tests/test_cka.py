"""Linear CKA (Kornblith et al. 2019) against hand-computed values and an HSIC formulation."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import ortho_group

from obliviate.metrics.cka import linear_cka


def test_hand_computed_example() -> None:
    """Three samples, one feature on each side.

    X = [0, 1, 2]^T -> centred x = [-1, 0, 1]^T;   Y = [0, 0, 3]^T -> centred y = [-1, -1, 2]^T
    Y^T X = (-1)(-1) + (-1)(0) + (2)(1) = 3          -> ||Y^T X||_F^2 = 9
    X^T X = 1 + 0 + 1 = 2;  Y^T Y = 1 + 1 + 4 = 6
    CKA = 9 / (2 * 6) = 0.75
    """
    assert linear_cka(np.array([[0.0], [1.0], [2.0]]), np.array([[0.0], [0.0], [3.0]])) == (
        pytest.approx(0.75, abs=1e-12))


def test_hand_computed_two_features() -> None:
    """Four samples; X two features, Y one.

    X = [[1, 0], [0, 1], [-1, 0], [0, -1]] (already centred); Y = [1, 2, 3, 4]^T -> centred
    y = [-1.5, -0.5, 0.5, 1.5]^T.
    Y^T X = [(-1.5)(1) + (0.5)(-1), (-0.5)(1) + (1.5)(-1)] = [-2, -2]   -> squared norm 8
    X^T X = [[2, 0], [0, 2]]  -> ||.||_F = sqrt(8);   Y^T Y = 2.25 + .25 + .25 + 2.25 = 5
    CKA = 8 / (sqrt(8) * 5) = sqrt(8) / 5 = 0.565685...
    """
    x = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert linear_cka(x, y) == pytest.approx(np.sqrt(8) / 5, abs=1e-12)


def _hsic_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Independent formulation: CKA = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) with linear
    kernels K = X X^T, L = Y Y^T and HSIC(K, L) = tr(K H L H) / (n - 1)^2, H = I - 11^T / n
    (Kornblith et al. 2019, eqs. 3-4; the (n - 1)^2 cancels)."""
    n = x.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    k, m = x @ x.T, y @ y.T

    def hsic(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.trace(a @ h @ b @ h)) / (n - 1) ** 2

    return hsic(k, m) / np.sqrt(hsic(k, k) * hsic(m, m))


@pytest.mark.parametrize(("n", "p", "q"), [(50, 5, 8), (6, 20, 30)])  # both code paths
def test_matches_hsic_formulation(n: int, p: int, q: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, p))
    y = x[:, :1] @ rng.normal(size=(1, q)) + rng.normal(size=(n, q))
    assert linear_cka(x, y) == pytest.approx(_hsic_cka(x, y), rel=1e-10)


def test_identical_is_one() -> None:
    x = np.random.default_rng(1).normal(size=(40, 7))
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)


def test_invariant_to_orthogonal_transform_and_isotropic_scaling() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(60, 6))
    y = rng.normal(size=(60, 4)) + x[:, :4]
    q = ortho_group.rvs(6, random_state=3)
    base = linear_cka(x, y)
    assert linear_cka(x @ q, y) == pytest.approx(base, rel=1e-10)
    assert linear_cka(3.7 * x, y) == pytest.approx(base, rel=1e-10)
    assert linear_cka(x @ q * 0.01, 50.0 * y) == pytest.approx(base, rel=1e-10)
    assert linear_cka(x, x @ q) == pytest.approx(1.0, abs=1e-12)
    # and to translation: features are centred first
    assert linear_cka(x + 5.0, y - 2.0) == pytest.approx(base, rel=1e-10)


def test_not_invariant_to_general_invertible_map() -> None:
    """Stretching one axis of X: X = [[1, 0], [0, 1], [-1, 0], [0, -1]] against itself is 1;
    A = diag(2, 1) is invertible, and X A against X gives
    ||X^T X A||^2 / (||A^T X^T X A|| ||X^T X||) = ||2 diag(2, 1)||^2 / (||2 diag(4, 1)|| ||2 I||)
    = 4 * 5 / (2 sqrt(17) * 2 sqrt(2)) = 5 / sqrt(34) = 0.857..."""
    x = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    stretched = x @ np.diag([2.0, 1.0])
    assert linear_cka(stretched, x) == pytest.approx(5 / np.sqrt(34), abs=1e-12)
    assert linear_cka(stretched, x) < 0.99


def test_symmetric_and_in_unit_interval() -> None:
    rng = np.random.default_rng(4)
    for _ in range(20):
        n = int(rng.integers(2, 30))
        x = rng.normal(size=(n, int(rng.integers(1, 10))))
        y = rng.normal(size=(n, int(rng.integers(1, 10))))
        v = linear_cka(x, y)
        assert v == pytest.approx(linear_cka(y, x), rel=1e-10)
        assert 0.0 <= v <= 1.0


def test_flattens_per_sample_and_accepts_vectors() -> None:
    rng = np.random.default_rng(5)
    conv = rng.normal(size=(10, 2, 3, 3))
    assert linear_cka(conv, conv.reshape(10, -1)) == pytest.approx(1.0, abs=1e-12)
    v = rng.normal(size=10)
    assert linear_cka(v, v[:, None]) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(("x", "y", "match"), [
    (np.ones((3, 2)) * np.arange(3)[:, None], np.ones((4, 2)), "same samples; x has 3 rows"),
    (np.ones((1, 2)), np.ones((1, 3)), "at least 2 samples, got 1"),
    (np.ones((5, 3)), np.arange(10.0).reshape(5, 2), "x has zero variance"),
    (np.arange(10.0).reshape(5, 2), np.full((5, 2), 7.0), "y has zero variance"),
    (np.array([[0.0], [np.nan]]), np.array([[0.0], [1.0]]), "x holds NaN"),
    (np.float64(1.0), np.ones(3), "scalar"),
    (np.ones((3, 0)), np.ones((3, 1)), "x has no features"),
])
def test_bad_input_is_a_clear_error(x: np.ndarray, y: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        linear_cka(x, y)


def test_importing_cka_does_not_import_torch() -> None:
    code = "import sys, obliviate.metrics.cka; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
