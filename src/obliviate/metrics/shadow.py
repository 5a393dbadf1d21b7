"""Shadow-model membership inference for unlearning: U-LiRA, and our strict variant of the
NeurIPS 2023 challenge's score (the challenge's own is ``metrics/challenge.py``).

Both compare, per forget example, the logit-scaled confidence of K unlearned models with
that of K models retrained without the forget set (METRICS.md). Inputs are (K, n) arrays:
one row per model, one column per forget example.

The strict variant departs from the challenge's ``metric.py`` on purpose: every cut between
sorted confidences instead of a fixed grid of 100 thresholds per unit, both orientations of
every threshold and interval, no "peaky" shortcut, and bins to epsilon 7 whatever K (the
challenge's top bin is ceil(log(K - 1)), which for K = 4 gives no point above epsilon 2).
It is reported as "strict forgetting quality F" / "strict score", never as the challenge's.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.special import logsumexp

DELTA = 1e-5  # the challenge's delta
PERFECT = 50.0  # epsilon given to a perfect separation (FPR = FNR = 0)
MIN_SIGMA = 1e-6  # a Gaussian fitted to identical values still needs a width


def logit_confidence(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) of the true label, from logits without forming p (stable):
    log p_y - log(1 - p_y) = z_y - logsumexp_{j != y} z_j."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels)
    rows = np.arange(len(y))
    others = z.copy()
    others[rows, y] = -np.inf
    return np.asarray(z[rows, y] - logsumexp(others, axis=1))


def _log_gauss(x: float, values: np.ndarray) -> float:
    mu, sigma = float(values.mean()), max(float(values.std(ddof=1)), MIN_SIGMA)
    return -0.5 * ((x - mu) / sigma) ** 2 - math.log(sigma)


def ulira_accuracy(unlearned: np.ndarray, retrained: np.ndarray) -> np.ndarray:
    """(n,) accuracy of U-LiRA (Hayes et al. 2024) per example, leave-one-pair-out.

    Model j of each group is held out in turn (the unlearned and retrained models of one
    seed); a Gaussian is fitted to each group's confidences on the other K - 1 models, and
    each held-out model is called "unlearned" when its confidence is more likely under the
    unlearned group's Gaussian (likelihood ratio > 1; a tie counts half). Holding out both
    keeps the two fits the same size: holding out one model only biases every call towards
    the group it was taken from. 50% means unlearned and retrained cannot be told apart.
    """
    u, r = np.asarray(unlearned, float), np.asarray(retrained, float)
    if u.shape != r.shape or u.ndim != 2 or u.shape[0] < 3:
        raise ValueError(f"U-LiRA needs two (K, n) arrays of the same shape with K >= 3 "
                         f"models per group; got {u.shape} and {r.shape}")
    k = u.shape[0]
    acc = np.zeros(u.shape[1])
    for i in range(u.shape[1]):
        right = 0.0
        for j in range(k):
            fit_u, fit_r = np.delete(u[:, i], j), np.delete(r[:, i], j)
            for x, is_unlearned in ((u[j, i], True), (r[j, i], False)):
                lr = _log_gauss(x, fit_u) - _log_gauss(x, fit_r)
                right += 0.5 if lr == 0 else float((lr > 0) == is_unlearned)
        acc[i] = right / (2 * k)
    return acc


def _epsilon(fpr: float, fnr: float, delta: float) -> float | None:
    """The challenge's epsilon of one attack; None for a skipped threshold."""
    if fpr == 0 and fnr == 0:
        return PERFECT
    if fpr == 0 or fnr == 0:
        return None

    def log_pos(x: float) -> float:
        return math.log(x) if x > 0 else -math.inf

    return max(log_pos(1 - delta - fpr) - math.log(fnr), log_pos(1 - delta - fnr) - math.log(fpr))


def strict_example_epsilon(unlearned: np.ndarray, retrained: np.ndarray,
                           delta: float = DELTA) -> float:
    """Max epsilon over single- and double-threshold attacks on one example's confidences.

    An attack calls a model "unlearned" (positive) when its confidence is above a threshold
    (or below it), or inside (or outside) an interval; thresholds are every cut between
    sorted values. FPR: share of retrained models called unlearned; FNR: share of unlearned
    models called retrained. Clipped at 0 (the reversed attack of any attack with negative
    epsilon has a positive one; the clip only removes -delta rounding).
    """
    u, r = np.asarray(unlearned, float), np.asarray(retrained, float)
    values = np.unique(np.concatenate([u, r]))
    cuts = np.concatenate([[values[0] - 1], (values[:-1] + values[1:]) / 2, [values[-1] + 1]])
    masks = [(u > t, r > t) for t in cuts]
    masks += [((u > a) & (u < b), (r > a) & (r < b)) for a, b in itertools.combinations(cuts, 2)]
    best = 0.0
    for pos_u, pos_r in masks:
        for flip in (False, True):  # the attack and its reverse
            fpr = float(np.mean(pos_r != flip))
            fnr = float(np.mean(pos_u == flip))
            eps = _epsilon(fpr, fnr, delta)
            if eps is not None:
                best = max(best, eps)
    return best


def strict_example_score(epsilon: float) -> float:
    """2^(-floor(epsilon / 0.5)) below epsilon 7, else 0 (the challenge's bins)."""
    return 0.0 if epsilon >= 7 else 2.0 ** (-math.floor(epsilon / 0.5))


def strict_forgetting_quality(unlearned: np.ndarray, retrained: np.ndarray,
                              ) -> tuple[float, np.ndarray]:
    """(F, per-example epsilon): F is the mean example score over the forget set."""
    u, r = np.asarray(unlearned, float), np.asarray(retrained, float)
    if u.shape[1:] != r.shape[1:] or u.ndim != 2 or min(u.shape[0], r.shape[0]) < 1:
        raise ValueError(f"need (K, n) arrays with the same n; got {u.shape} and {r.shape}")
    eps = np.array([strict_example_epsilon(u[:, i], r[:, i]) for i in range(u.shape[1])])
    return float(np.mean([strict_example_score(e) for e in eps])), eps
