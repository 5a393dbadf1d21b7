"""The NeurIPS 2023 machine-unlearning challenge's forgetting score, as its own ``metric.py``.

google-deepmind/unlearning_evaluation ``metric.py`` (``compute_forget_score_from_confs``),
re-derived in numpy (the reference runs the same arithmetic in torch on a GPU). Inputs are
(K, n) arrays of logit-scaled confidences: one row per model, one column per forget example,
K unlearned models against K retrained ones. Per example:

1. The positive group is the one with the larger median (``retrain_is_positive``).
2. If the smaller of the two groups' ranges is under 1% of the larger, the distributions are
   "peaky" and epsilon is the cap, 50, without any attack.
3. Otherwise two attack families on a fixed grid of 100 thresholds per unit of confidence:
   single thresholds from the pooled minimum to maximum (``c >= t`` is positive), and
   intervals ``[l, r]`` (positive inside) around the peakier group, right ends from its
   minimum + width - 2 to its maximum + 2, 400 left ends per right end spanning +-2 around
   ``r - width`` (``width`` = the peakier group's range).
4. Per threshold: FPR = FNR = 0 (perfect separation) gives infinity; any other threshold
   with FPR = 0 or FNR = 0 is discarded; the rest give
   ``max(log(1 - delta - FPR) - log FNR, log(1 - delta - FNR) - log FPR)`` clipped at 0;
   epsilon is the largest, capped at 50.
5. Score ``2^-floor(epsilon / 0.5)`` for epsilon below ``ceil(log(K - 1))``, else 0; F is
   the mean over the forget set.

Departures, each on purpose and tested: rates and epsilons in float64 (the reference's rates
are float32 means of the same K-model fractions, so epsilons agree to float32 round-off);
the reference's ``assert thr_eps`` tests the truth of a numpy array, which raises for more
than one surviving threshold and fails for a single epsilon of 0, so we read it as its message
says (some threshold must survive); where none survives (every model of both groups gives one
and the same confidence) we return epsilon 0, the groups being indistinguishable, instead of
failing.
``strict_forgetting_quality`` (``metrics/shadow.py``) is our stricter variant and carries
another name.
"""

from __future__ import annotations

import math

import numpy as np

DELTA = 1e-05
EPSILON_CAP = 50.0
THRESHOLDS_PER_UNIT = 100
BUFFER = 2.0
PEAKY_RATIO = 0.01
BUCKET = 0.5


def challenge_confidence(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``compute_logit_scaled_confidence``: max-shifted softmax in float64, then
    ``log(p_y + 1e-45) - log(sum_{j != y} p_j + 1e-45)`` (so it saturates near +-103.6, where
    the exact log-odds of ``metrics/shadow.logit_confidence`` keep growing)."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels)
    if z.ndim != 2 or y.shape != (z.shape[0],):
        raise ValueError(f"challenge_confidence: logits {z.shape} and labels {y.shape} do not "
                         "match (want (n, c) and (n,))")
    probs = np.exp(z - z.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    correct = probs[rows, y].copy()
    probs[rows, y] = 0.0
    return np.asarray(np.log(correct + 1e-45) - np.log(probs.sum(axis=1) + 1e-45))


def torch_linspace(start: float, end: float, steps: int) -> np.ndarray:
    """``torch.linspace``'s grid in float64: the first half counts up from ``start``, the
    second half down from ``end``, as ATen's kernel does. Its vectorised kernel may fuse the
    multiply-add, so points agree with torch's to an ulp or two (tested), not bit for bit: a
    rate can differ only for a confidence within an ulp of a grid point."""
    if steps <= 0:
        return np.zeros(0)
    if steps == 1:
        return np.array([float(start)])
    step = (end - start) / (steps - 1)
    idx = np.arange(steps)
    half = steps // 2
    return np.where(idx < half, start + step * idx, end - step * (steps - idx - 1))


def _fraction_at_or_above(sorted_values: np.ndarray, t: np.ndarray) -> np.ndarray:
    return (len(sorted_values) - np.searchsorted(sorted_values, t, side="left")) / len(
        sorted_values)


def _fraction_inside(sorted_values: np.ndarray, left: np.ndarray,
                     right: np.ndarray) -> np.ndarray:
    """Share of values with ``left <= v <= right``."""
    inside = (np.searchsorted(sorted_values, right, side="right")
              - np.searchsorted(sorted_values, left, side="left"))
    return np.maximum(inside, 0) / len(sorted_values)


def _single_rates(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(TPR, FPR) of ``c >= t`` over the pooled-range grid (``_get_single_threshold_rates``)."""
    both = np.concatenate([pos, neg])
    lo, hi = float(both.min()), float(both.max())
    t = torch_linspace(lo, hi, int(math.ceil((hi - lo) * THRESHOLDS_PER_UNIT)))
    return _fraction_at_or_above(np.sort(pos), t), _fraction_at_or_above(np.sort(neg), t)


def _double_rates(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(TPR, FPR) of ``l <= c <= r`` with the peakier group as positive
    (``_get_double_threshold_rates``; the caller's TPR and FPR are of that swapped pair)."""
    pos_diff, neg_diff = float(pos.max() - pos.min()), float(neg.max() - neg.min())
    width = neg_diff if pos_diff > neg_diff else pos_diff
    if pos_diff >= neg_diff:
        pos, neg = neg, pos
    lo = float(pos.min()) + width - BUFFER
    hi = float(pos.max()) + BUFFER
    right = np.linspace(lo, hi, num=int(math.ceil((hi - lo) * THRESHOLDS_PER_UNIT)))
    n_left = int(math.ceil(2 * BUFFER * THRESHOLDS_PER_UNIT))
    left = np.concatenate([np.linspace(r - width - BUFFER, r - width + BUFFER, num=n_left)
                           for r in right]) if len(right) else np.zeros(0)
    right = np.repeat(right, n_left)
    return (_fraction_inside(np.sort(pos), left, right),
            _fraction_inside(np.sort(neg), left, right))


def example_epsilon(pos: np.ndarray, neg: np.ndarray, delta: float = DELTA) -> float:
    """One example's epsilon (``_get_epsilons``); ``pos`` is the larger-median group."""
    pos, neg = np.asarray(pos, np.float64), np.asarray(neg, np.float64)
    pos_diff, neg_diff = float(pos.max() - pos.min()), float(neg.max() - neg.min())
    largest, smallest = max(pos_diff, neg_diff), min(pos_diff, neg_diff)
    # 0 / 0 is NaN in the reference, and NaN < 0.01 is False: not peaky.
    if largest > 0 and smallest / largest < PEAKY_RATIO:
        return EPSILON_CAP
    tpr_d, fpr_d = _double_rates(pos, neg)
    tpr_s, fpr_s = _single_rates(pos, neg)
    tpr, fpr = np.concatenate([tpr_d, tpr_s]), np.concatenate([fpr_d, fpr_s])
    fnr, tnr = 1.0 - tpr, 1.0 - fpr
    if np.any((fpr + fnr == 0) & (tpr + tnr == 2)):
        return EPSILON_CAP  # perfect separation: infinity, capped
    keep = (fpr > 0) & (fnr > 0)
    if not keep.any():
        return 0.0  # departure: the reference's assert fails; the groups are one constant
    f, n = fpr[keep], fnr[keep]
    with np.errstate(divide="ignore", invalid="ignore"):  # log of <= 0 is NaN, as there
        a = np.log(1 - delta - f) - np.log(n)
        b = np.log(1 - delta - n) - np.log(f)
    eps = np.fmax(a, b)  # nanmax of the two
    eps = eps[~np.isnan(eps)]
    if eps.size == 0:
        return 0.0
    return float(min(max(float(np.clip(eps, 0.0, None).max()), 0.0), EPSILON_CAP))


def bucket_points(num_models: int) -> list[tuple[float, float]]:
    """[(bucket start, points)]: 1, 1/2, 1/4, ... per 0.5 of epsilon up to ceil(log(K - 1))."""
    if num_models < 3:
        raise ValueError(f"the challenge score needs at least 3 models per group (its top "
                         f"bucket is ceil(log(K - 1)) = 0 for K = 2), got {num_models}")
    top = math.ceil(math.log(num_models - 1))
    out, start, points = [], 0.0, 1.0
    while start + BUCKET <= top:
        out.append((start, points))
        points /= 2
        start += BUCKET
    return out


def example_score(epsilon: float, num_models: int) -> float:
    for start, points in bucket_points(num_models):
        if epsilon < start + BUCKET:
            return points
    return 0.0


def forgetting_quality(unlearned: np.ndarray, retrained: np.ndarray,
                       ) -> tuple[float, np.ndarray]:
    """(F, per-example epsilon) of K unlearned vs K retrained models' (K, n) confidences."""
    u, r = np.asarray(unlearned, np.float64), np.asarray(retrained, np.float64)
    if u.ndim != 2 or u.shape != r.shape:
        raise ValueError(f"need two (K, n) arrays of the same shape; got {u.shape} and {r.shape}")
    if not (np.isfinite(u).all() and np.isfinite(r).all()):
        raise ValueError("the challenge score needs finite confidences")
    r_pos = np.median(r, axis=0) > np.median(u, axis=0)
    pos, neg = np.where(r_pos, r, u), np.where(r_pos, u, r)
    eps = np.array([example_epsilon(pos[:, i], neg[:, i]) for i in range(u.shape[1])])
    k = u.shape[0]
    return float(np.mean([example_score(e, k) for e in eps])), eps


def challenge_score(quality: float, ra_u: float, ra_r: float, ta_u: float, ta_r: float) -> float:
    """F x (RA_u / RA_r) x (TA_u / TA_r), accuracies averaged over each group's models."""
    if ra_r <= 0 or ta_r <= 0:
        raise ValueError(f"retrained models' accuracies must be > 0 (RA {ra_r}, TA {ta_r})")
    return quality * (ra_u / ra_r) * (ta_u / ta_r)
