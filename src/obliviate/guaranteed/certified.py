"""Certified removal for L2-regularised logistic regression (Guo, Goldstein, Hannun and van
der Maaten, "Certified Data Removal from Machine Learning Models", ICML 2020), written from
the paper; one-vs-rest for several classes, as the paper does (Sec. 4).

Per binary problem (labels y in {-1, +1}, every feature vector of norm <= 1, Sec. 3):

* **Training with loss perturbation** (Sec. 3, "Loss perturbation"; Algorithm 1):
      L_b(w; D) = sum_i l(w^T x_i, y_i) + (lambda n / 2) ||w||^2 + b^T w,
      l(z, y) = log(1 + exp(-y z)),   b ~ N(0, sigma^2 I_d),
  minimised exactly (damped Newton to a relative gradient norm of 1e-10; float64).
* **Removal by one Newton step** (Sec. 3, Eq. for w^-): removing a set F from D (n' rows
  left),
      Delta = lambda |F| w + sum_{i in F} grad l(w^T x_i, y_i)      (the gradient L_b loses)
      H     = grad^2 L_b(w; D') = sum_{i not in F} l''(w^T x_i) x_i x_i^T + lambda n' I
      w^-   = w + H^{-1} Delta.
  For one point this is the paper's Delta = lambda w* + grad l(w*^T x_n, y_n).
* **Data-dependent bound on the gradient residual** (Sec. 3.2, Corollary 1 as we read it):
      ||grad L_b(w^-; D')|| <= gamma ||X'||_2 ||H^{-1} Delta||_2 ||X' H^{-1} Delta||_2,
  X' the remaining rows, gamma = 1/4 the Lipschitz constant the paper uses for l''.
  (It holds because |l''(a) - l''(b)| <= gamma |a - b| and |x_i^T v| <= ||v|| when
  ||x_i|| <= 1.) After a Newton step the residual carries over to the next request, so the
  bounds of successive removals add up (Sec. 3, "sequential removals"): ``spent``.
* **Budget** ((epsilon, delta) version with Gaussian b, Sec. 3): the removals are
  (epsilon, delta)-certified while the accumulated bound stays <= beta = sigma epsilon / c,
  c = sqrt(2 log(1.5 / delta)). A removal that would exceed beta retrains from scratch on
  the remaining rows with a fresh b instead (Algorithm 2's retrain), and ``spent`` is 0
  again.

Each of the K one-vs-rest models has its own b and its own running bound; a retrain is
triggered when any of them would exceed beta. The K models are released together, so the
whole classifier is (K epsilon, K delta)-certified by basic composition; the record states
both the per-model and the composed values.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from obliviate.guaranteed.guarantee import CERTIFIED, Deletion
from obliviate.methods.common import check_positive

GAMMA = 0.25  # Lipschitz constant of l'' for the logistic loss, as the paper takes it


@dataclass(frozen=True)
class CertifiedConfig:
    lam: float = 1e-3  # lambda, the L2 strength per sample (our choice; digits, seeds 3-4)
    epsilon: float = 1.0  # per-model epsilon (the paper's figures use epsilon = 1)
    delta: float = 1e-4  # per-model delta (the paper's (epsilon, delta) experiments)
    sigma: float = 1.0  # std of the loss perturbation b (the paper sweeps it; our choice)

    def __post_init__(self) -> None:
        check_positive("CertifiedConfig", lam=self.lam, epsilon=self.epsilon,
                       delta=self.delta, sigma=self.sigma)
        if self.delta >= 1:
            raise ValueError(f"CertifiedConfig: delta={self.delta} must be in (0, 1)")

    @property
    def budget(self) -> float:
        """beta = sigma epsilon / c, c = sqrt(2 log(1.5 / delta)) (Sec. 3)."""
        return self.sigma * self.epsilon / math.sqrt(2 * math.log(1.5 / self.delta))


def unit_features(x: np.ndarray) -> np.ndarray:
    """Flattened inputs with a constant 1 appended (the intercept), scaled to unit norm:
    the paper's ||x_i|| <= 1."""
    flat = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    u = np.hstack([flat, np.ones((len(flat), 1))])
    out: np.ndarray = u / np.linalg.norm(u, axis=1, keepdims=True)
    return out


def _sigmoid(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow for large |z|
    return out


def gradient(w: np.ndarray, x: np.ndarray, y: np.ndarray, lam: float, b: np.ndarray,
             ) -> np.ndarray:
    """grad L_b(w; D) for D = (x, y) with n = len(y)."""
    g: np.ndarray = x.T @ (-y * _sigmoid(-y * (x @ w))) + lam * len(y) * w + b
    return g


def hessian(w: np.ndarray, x: np.ndarray, lam: float) -> np.ndarray:
    s = _sigmoid(x @ w)
    h: np.ndarray = (x * (s * (1 - s))[:, None]).T @ x + lam * len(x) * np.eye(x.shape[1])
    return h


def objective(w: np.ndarray, x: np.ndarray, y: np.ndarray, lam: float, b: np.ndarray,
              ) -> float:
    """L_b(w; D)."""
    return float(np.logaddexp(0.0, -y * (x @ w)).sum() + 0.5 * lam * len(y) * w @ w + b @ w)


def minimise(x: np.ndarray, y: np.ndarray, lam: float, b: np.ndarray, *,
             tol: float = 1e-10, max_steps: int = 200) -> np.ndarray:
    """argmin_w L_b(w; D) by Newton's method with a backtracking (Armijo) line search; L_b
    is lambda n-strongly convex, so it converges from w = 0 whatever the size of b. The
    tolerance is relative to the size of the problem's gradient terms (n and ||b||)."""
    w = np.zeros(x.shape[1])
    for _ in range(max_steps):
        g = gradient(w, x, y, lam, b)
        scale = max(1.0, float(len(y)), float(np.linalg.norm(b)),
                    lam * len(y) * float(np.linalg.norm(w)))
        if np.linalg.norm(g) <= tol * scale:
            return w
        step = np.linalg.solve(hessian(w, x, lam), g)
        f, t = objective(w, x, y, lam, b), 1.0
        # Near the minimum the decrease g.step falls below the rounding of f: take the full
        # step there (Newton converges quadratically), search only while it can be seen.
        if g @ step > 1e-9 * max(1.0, abs(f)):
            while objective(w - t * step, x, y, lam, b) > f - 0.25 * t * (g @ step) and \
                    t > 1e-12:
                t *= 0.5
        w = w - t * step
    raise RuntimeError(f"Newton's method did not reach |grad| <= {tol:.3g} x {scale:.3g} in "
                       f"{max_steps} steps")


def spectral_norm(x: np.ndarray) -> float:
    """||X||_2 = sqrt(largest eigenvalue of X^T X): a d x d eigenproblem, not an SVD of the
    n x d matrix (the same number; the SVD took a second per class on a busy 2-core CPU)."""
    return float(np.sqrt(max(np.linalg.eigvalsh(x.T @ x)[-1], 0.0)))


def newton_removal(w: np.ndarray, x_keep: np.ndarray, y_keep: np.ndarray, x_gone: np.ndarray,
                   y_gone: np.ndarray, lam: float, x_norm: float | None = None,
                   ) -> tuple[np.ndarray, float]:
    """(w^-, the data-dependent bound on ||grad L_b(w^-; D')||) for removing (x_gone, y_gone).
    ``x_norm``: ||x_keep||_2 when the caller has it (it is the same for every class)."""
    z = x_gone @ w
    delta = lam * len(y_gone) * w + x_gone.T @ (-y_gone * _sigmoid(-y_gone * z))
    step = np.linalg.solve(hessian(w, x_keep, lam), delta)
    norm = spectral_norm(x_keep) if x_norm is None else x_norm
    bound = GAMMA * norm * np.linalg.norm(step) * np.linalg.norm(x_keep @ step)
    return w + step, float(bound)


class CertifiedLogistic:
    """K one-vs-rest models ``W`` (K, d) with their noise ``B`` and running bounds."""

    def __init__(self, x: np.ndarray, y: np.ndarray, ids: np.ndarray, n_classes: int,
                 cfg: CertifiedConfig, *, seed: int) -> None:
        if len(y) < 2:
            raise ValueError("CertifiedLogistic: needs at least 2 training rows")
        self.cfg, self.n_classes = cfg, n_classes
        self.x, self.y = unit_features(x), np.asarray(y, dtype=np.int64)
        self.ids = np.asarray(ids, dtype=np.int64)
        self._rng = np.random.default_rng([seed, 0xCE27])
        self.retrains = 0
        self._train()

    def _signs(self, y: np.ndarray, k: int) -> np.ndarray:
        return np.where(y == k, 1.0, -1.0)

    def _train(self) -> None:
        """Fresh b for every class, exact minimisers, nothing spent."""
        d = self.x.shape[1]
        self.B = self._rng.normal(0.0, self.cfg.sigma, (self.n_classes, d))
        self.W = np.stack([minimise(self.x, self._signs(self.y, k), self.cfg.lam, self.B[k])
                           for k in range(self.n_classes)])
        self.spent = np.zeros(self.n_classes)

    def scores(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(unit_features(x) @ self.W.T)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.scores(x).argmax(axis=1))

    def delete(self, ids: np.ndarray) -> Deletion:
        """Remove rows by id: one Newton step per class, or a retrain when the accumulated
        bound of some class would pass the budget."""
        ids = np.asarray(ids, dtype=np.int64)
        gone = np.isin(self.ids, ids)
        if len(ids) == 0 or int(gone.sum()) != len(np.unique(ids)) or len(np.unique(ids)) != \
                len(ids):
            raise ValueError("CertifiedLogistic.delete: the rows must be distinct training "
                             "rows not yet deleted (and at least one)")
        if int((~gone).sum()) < 2:
            raise ValueError("CertifiedLogistic.delete: fewer than 2 rows would remain")
        start = time.perf_counter()
        xk, yk, xg, yg = self.x[~gone], self.y[~gone], self.x[gone], self.y[gone]
        norm = spectral_norm(xk)
        steps = [newton_removal(self.W[k], xk, self._signs(yk, k), xg, self._signs(yg, k),
                                self.cfg.lam, norm) for k in range(self.n_classes)]
        bounds = np.array([b for _, b in steps])
        self.x, self.y, self.ids = xk, yk, self.ids[~gone]
        retrained = bool((self.spent + bounds > self.cfg.budget).any())
        if retrained:
            self._train()
            self.retrains += 1
        else:
            self.W = np.stack([w for w, _ in steps])
            self.spent = self.spent + bounds
        k = self.n_classes
        return Deletion("certified", len(ids), time.perf_counter() - start, CERTIFIED, {
            "epsilon": self.cfg.epsilon, "delta": self.cfg.delta, "sigma": self.cfg.sigma,
            "lam": self.cfg.lam, "budget": self.cfg.budget,
            "step_bounds": bounds.tolist(), "spent": self.spent.tolist(),
            "budget_used": float(self.spent.max() / self.cfg.budget), "retrained": retrained,
            "retrains": self.retrains, "one_vs_rest_models": k,
            "composed": {"epsilon": k * self.cfg.epsilon, "delta": k * self.cfg.delta}})
