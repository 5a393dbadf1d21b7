"""The few statistics the report computes from sidecars: ROC curves, AUC, Pareto fronts, KS."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy.stats import ks_2samp


def roc(members: np.ndarray, nonmembers: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(FPR, TPR, AUC) of calling a sample a member when its score exceeds a threshold.

    Higher score = member. AUC = P(member > non-member) + P(tie) / 2, the Mann-Whitney form
    that ``sklearn.metrics.roc_auc_score`` computes; the curve has one point per distinct score.
    """
    m = np.asarray(members, dtype=np.float64)
    n = np.asarray(nonmembers, dtype=np.float64)
    if len(m) == 0 or len(n) == 0:
        raise ValueError(f"roc: needs members and non-members, got {len(m)} and {len(n)}")
    scores = np.concatenate([m, n])
    labels = np.concatenate([np.ones(len(m)), np.zeros(len(n))])
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]  # last index of each score
    tpr = np.r_[0.0, np.cumsum(y)[last] / len(m)]
    fpr = np.r_[0.0, np.cumsum(1 - y)[last] / len(n)]
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))  # trapezoids (numpy 1.x)
    return fpr, tpr, auc


def pareto_front(points: Sequence[tuple[float, float]], *, maximise_x: bool,
                 maximise_y: bool) -> list[int]:
    """Indices of the points no other point beats on both axes, in order of x."""
    sx, sy = (1 if maximise_x else -1), (1 if maximise_y else -1)
    keep = []
    for i, (x, y) in enumerate(points):
        dominated = any(
            sx * a >= sx * x and sy * b >= sy * y and (sx * a > sx * x or sy * b > sy * y)
            for j, (a, b) in enumerate(points) if j != i)
        if not dominated:
            keep.append(i)
    return sorted(keep, key=lambda i: (points[i][0], points[i][1]))


def ks(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(statistic, p-value) of the two-sample KS test, exactly as forget quality calls it.

    scipy falls back from the exact to the asymptotic p-value on ties and says so with a
    RuntimeWarning; the record's value was computed the same way, so the notice is dropped.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = ks_2samp(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    return float(res.statistic), float(res.pvalue)
