"""Graph metrics (METRICS.md, "Graphs"): link stealing and the gap to the oracle.

Pure numpy/scipy: posteriors in, numbers out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy.stats import rankdata

# The four numbers the headline averages (each in percent, so the gap is in points); the
# link-stealing AUC is left out where a request deletes no edge (a feature request).
GRAPH_GAP_METRICS: tuple[str, ...] = ("Forget acc", "Retain acc", "Test acc", "Link AUC")


def correlation_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise ``1 - pearson(a_i, b_i)`` (scipy.spatial.distance.correlation per row).

    A constant row has no correlation; its distance is 1 (uncorrelated) where scipy gives
    NaN, so a dead model scores chance rather than failing.
    """
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    dot = (a * b).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where(norm > 0, dot / np.where(norm > 0, norm, 1.0), 0.0)
    return 1.0 - corr


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise ``1 - cos(a_i, b_i)`` (scipy.spatial.distance.cosine per row); a zero row is
    at distance 1."""
    norm = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    dot = (a * b).sum(axis=1)
    return 1.0 - np.where(norm > 0, dot / np.where(norm > 0, norm, 1.0), 0.0)


DISTANCES = {"correlation": correlation_distance, "cosine": cosine_distance}


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """ROC-AUC in % of scores where positives should score higher: the Mann-Whitney U over
    |pos| x |neg| (ties count half), from average ranks."""
    pos, neg = np.asarray(positive, np.float64), np.asarray(negative, np.float64)
    ranks = rankdata(np.concatenate([pos, neg]))
    u = ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return float(100.0 * u / (len(pos) * len(neg)))


def link_scores(posteriors: np.ndarray, pairs: np.ndarray,
                distance: str = "correlation") -> np.ndarray:
    """The attack's score of each node pair: minus the distance between the two nodes'
    posteriors (close posteriors = "linked")."""
    if distance not in DISTANCES:
        raise ValueError(f"unknown distance {distance!r}; valid: {', '.join(DISTANCES)}")
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return -DISTANCES[distance](posteriors[pairs[:, 0]], posteriors[pairs[:, 1]])


def link_stealing_auc(posteriors: np.ndarray, forgotten: np.ndarray, absent: np.ndarray,
                      distance: str = "correlation") -> float | None:
    """He et al., "Stealing Links from Graph Neural Networks" (USENIX Security 2021),
    Attack-0 (unsupervised): the AUC (%) with which posterior similarity tells the forgotten
    edges from node pairs never linked. 50 = the model's outputs say nothing about the
    links; the oracle's value is the target (homophily alone lifts it above 50). None when
    either set is empty. Correlation distance is the paper's best-performing metric on most
    of its data sets.
    """
    forgotten = np.asarray(forgotten).reshape(-1, 2)
    absent = np.asarray(absent).reshape(-1, 2)
    if len(forgotten) == 0 or len(absent) == 0:
        return None
    return auc(link_scores(posteriors, forgotten, distance),
               link_scores(posteriors, absent, distance))


def absent_pairs(n_nodes: int, edges: np.ndarray, k: int, seed: int) -> np.ndarray:
    """``k`` distinct node pairs (u < v) that are not edges of the graph, uniformly at random
    (He et al. sample as many unlinked pairs as linked ones); fewer when the graph has fewer
    unlinked pairs."""
    linked = {(int(u), int(v)) for u, v in edges}
    free = n_nodes * (n_nodes - 1) // 2 - len(linked)
    k = min(k, free)
    rng = np.random.default_rng(seed)
    out: dict[tuple[int, int], None] = {}
    while len(out) < k:
        u, v = rng.integers(0, n_nodes, size=2)
        pair = (int(min(u, v)), int(max(u, v)))
        if pair[0] != pair[1] and pair not in linked:
            out[pair] = None
    return np.array(list(out), dtype=np.int64).reshape(-1, 2)


def graph_gap(values: Mapping[str, float | None], oracle: Mapping[str, float | None],
              names: Sequence[str] = GRAPH_GAP_METRICS) -> float:
    """Mean over ``names`` of |values - oracle|, in points, over the metrics both define
    (None where a request deletes no edge); a metric one side defines and the other not is
    an error, as is a non-finite value."""
    gaps = []
    for k in names:
        a, b = values.get(k), oracle.get(k)
        if a is None and b is None:
            continue
        if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
            raise ValueError(f"graph_gap: {k} is {a} for the model and {b} for the oracle")
        gaps.append(abs(float(a) - float(b)))
    if not gaps:
        raise ValueError(f"graph_gap: none of {', '.join(names)} is defined")
    return sum(gaps) / len(gaps)
