"""Pools of (features, real-valued target) rows: scikit-learn's diabetes and a synthetic set.

A pool holds the targets in their own units; a scenario standardises them for training
(``scenario.py``) and plants outliers in the synthetic scenario's training rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_diabetes

from obliviate.tasks.classification.pool import row_hashes


@dataclass(frozen=True)
class RegressionPool:
    """``x`` (n, d) float32 standardised features, ``y`` (n,) float64 targets in their own
    units, ``target`` the target's name. ``row`` maps each pool row to the source file's row
    (``indices:FILE`` names source rows); rows dropped as duplicates are absent from it."""

    name: str
    x: np.ndarray
    y: np.ndarray
    target: str
    row: np.ndarray
    n_source_rows: int

    @property
    def input_dim(self) -> int:
        return int(self.x.shape[1])

    def fingerprint(self) -> str:
        """sha256 of the features, targets and row numbers: changes whenever the data does."""
        h = hashlib.sha256(b"regression")
        for arr in (self.x, self.y, self.row):
            h.update(str(arr.shape).encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()


def make_regression_pool(name: str, x: np.ndarray, y: np.ndarray,
                         target: str = "y") -> RegressionPool:
    """A pool with exact duplicate inputs dropped, so no sample can sit in two splits.

    A duplicated input keeps its first occurrence when every copy has the same target, and is
    dropped entirely when they differ (it would be a member and a non-member at once).
    Features are standardised over the pool (a fixed change of units, the same for every
    model of the scenario, as the classifiers' user data are).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    hashes = row_hashes(x.astype(np.float32))
    first: dict[str, int] = {}
    conflicted: set[str] = set()
    for i, h in enumerate(hashes):
        if h in first:
            if y[first[h]] != y[i]:
                conflicted.add(h)
        else:
            first[h] = i
    keep = np.array(sorted(i for h, i in first.items() if h not in conflicted), dtype=np.int64)
    mu, sd = x.mean(axis=0), x.std(axis=0)
    z = ((x - mu) / np.where(sd > 0, sd, 1.0)).astype(np.float32)
    return RegressionPool(name, z[keep], y[keep], target, keep, len(x))


def diabetes_pool() -> RegressionPool:
    """scikit-learn's diabetes data: 442 patients, 10 baseline measurements, and a measure of
    disease progression one year later (25 to 346). Read from disk, no download."""
    d = load_diabetes()
    return make_regression_pool("diabetes", d.data, d.target, "disease progression")


def synthetic_function(x: np.ndarray) -> np.ndarray:
    """The smooth function the synthetic targets follow (inputs standard normal, 6 columns;
    the last is irrelevant): a sine, a bowl, an interaction and a slope."""
    return (np.sin(1.5 * x[:, 0]) + 0.5 * x[:, 1] ** 2 - 0.5 * x[:, 2] * x[:, 3]
            + 0.3 * x[:, 4])


def synthetic_pool(n: int = 600, noise: float = 0.1, seed: int = 0) -> RegressionPool:
    """``n`` rows of 6 standard-normal features and ``synthetic_function`` plus Gaussian noise
    of standard deviation ``noise`` (fixed by ``seed``, not by a run's seed)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    y = synthetic_function(x) + noise * rng.normal(size=n)
    return make_regression_pool("synthetic", x, y, "y")


def plant_outliers(y: np.ndarray, positions: np.ndarray, share: float,
                   scale: tuple[float, float], rng: np.random.Generator,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(targets with outliers, their pool positions): ``round(share * len(positions))`` of
    ``positions`` get their target moved by ``s * sd`` with ``s`` uniform in ``scale`` and a
    random sign, ``sd`` the standard deviation of the targets at ``positions``.

    Far from the function every other target follows, such a target is learnt only by
    memorising that one sample: an over-parameterised network fits it and a model that never
    saw it predicts the function, so forgetting it is visible in its error.
    """
    out = y.copy()
    k = int(round(share * len(positions)))
    if k == 0:
        return out, np.zeros(0, dtype=np.int64)
    chosen = np.sort(rng.choice(positions, size=k, replace=False))
    size = rng.uniform(scale[0], scale[1], size=k) * rng.choice([-1.0, 1.0], size=k)
    out[chosen] += size * float(np.std(y[positions]))
    return out, chosen.astype(np.int64)
