"""Ranking metrics for recommenders (METRICS.md, "Recommenders"): pure numpy functions of ranks.

A rank is the 1-based position of an item in its user's list of candidates (every item except
the user's retained training interactions, the filter a deployed recommender applies), ties
broken by item index so that ranks within a list are distinct (``tasks/recommendation/probe``
computes them). From ranks alone:

* Recall@K of a user = |held-out items ranked <= K| / |held-out items| (LightGCN / MMRec's
  definition); NDCG@K = DCG@K / IDCG@K with binary relevance, DCG = sum over held-out items
  ranked <= K of 1 / log2(rank + 1), IDCG = sum_{r=1}^{min(K, |items|)} 1 / log2(r + 1). Both
  are averaged over users, in percent.
* Forget rank = mean over forgotten interactions of the percentile rank
  100 (rank - 1) / (|candidates| - 1): 0 = top of the list, 100 = bottom.
* Hit@K (D_f) = % of forgotten interactions ranked <= K (the attacks' forget score).
* Rec.Gap = mean |unlearned - oracle| over Recall@20, NDCG@20, Forget rank and MIA-Eff
  (interactions), in percentage points: two numbers of utility, two of forgetting, as SalUn's
  Avg. Gap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from sklearn.svm import SVC

from obliviate.metrics.mia import _SVC_C, select_members
from obliviate.metrics.values import MetricValue

REC_GAP_METRICS: tuple[str, ...] = ("Recall@20", "NDCG@20", "Forget rank",
                                    "MIA-Eff (interactions)")


def _check_ranks(ranks: np.ndarray, what: str) -> np.ndarray:
    r = np.asarray(ranks)
    if r.ndim != 1 or len(r) == 0:
        raise ValueError(f"{what}: need a non-empty 1-D array of ranks, got shape {r.shape}")
    if not np.issubdtype(r.dtype, np.integer) or r.min() < 1:
        raise ValueError(f"{what}: ranks must be integers >= 1 (1 = top of the list)")
    return r.astype(np.int64)


def _per_user(ranks: np.ndarray, owner: np.ndarray, what: str,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ranks, the position of each rank's user among the distinct users, items per user)."""
    r = _check_ranks(ranks, what)
    owner = np.asarray(owner)
    if owner.shape != r.shape:
        raise ValueError(f"{what}: owner {owner.shape} and ranks {r.shape} differ")
    _, which, counts = np.unique(owner, return_inverse=True, return_counts=True)
    return r, which, counts


def recall_at_k(ranks: np.ndarray, owner: np.ndarray, k: int) -> MetricValue:
    """Mean over users of |held-out items with rank <= k| / |held-out items|, in percent;
    ``per_sample`` is each user's recall (0 to 1), users in ascending id order."""
    r, which, counts = _per_user(ranks, owner, "recall_at_k")
    hits = np.bincount(which, weights=(r <= k).astype(np.float64), minlength=len(counts))
    per_user = hits / counts
    return MetricValue(100.0 * float(per_user.mean()), per_user)


def ndcg_at_k(ranks: np.ndarray, owner: np.ndarray, k: int) -> MetricValue:
    """Mean over users of DCG@k / IDCG@k (binary relevance, log2(rank + 1) discounts), in
    percent; ``per_sample`` is each user's NDCG (0 to 1). A user's ranks must be distinct."""
    r, which, counts = _per_user(ranks, owner, "ndcg_at_k")
    gain = np.where(r <= k, 1.0 / np.log2(r + 1.0), 0.0)
    dcg = np.bincount(which, weights=gain, minlength=len(counts))
    ideal_disc = np.cumsum(1.0 / np.log2(np.arange(1, k + 1) + 1.0))
    idcg = ideal_disc[np.minimum(counts, k) - 1]
    per_user = dcg / idcg
    if per_user.max() > 1 + 1e-12:  # only when one user's ranks repeat: not a ranking
        raise ValueError("ndcg_at_k: a user's ranks repeat; ranks within a list are distinct")
    return MetricValue(100.0 * float(per_user.mean()), per_user)


def percentile_rank(ranks: np.ndarray, n_candidates: np.ndarray) -> MetricValue:
    """Mean of 100 (rank - 1) / (candidates - 1) over interactions: 0 = ranked first, 100 =
    ranked last. ``per_sample`` holds each interaction's percentile (0 to 100)."""
    r = _check_ranks(ranks, "percentile_rank")
    n = np.asarray(n_candidates, dtype=np.int64)
    if n.shape != r.shape or (n < 2).any() or (r > n).any():
        raise ValueError("percentile_rank: each rank needs a list of >= 2 candidates that "
                         "holds it (1 <= rank <= candidates)")
    pct = 100.0 * (r - 1) / (n - 1)
    return MetricValue(float(pct.mean()), pct)


def hit_rate(ranks: np.ndarray, k: int) -> MetricValue:
    """% of interactions ranked <= k; ``per_sample`` 0/1."""
    hit = (_check_ranks(ranks, "hit_rate") <= k).astype(np.float64)
    return MetricValue(100.0 * float(hit.mean()), hit)


def interaction_mia_efficacy(retain: np.ndarray, test: np.ndarray, forget: np.ndarray, *,
                             seed: int) -> MetricValue:
    """MIA-Efficacy (Jia et al. 2023) on interactions, in percent: the share of forgotten
    interactions an RBF-SVM attack (C = 3, gamma "auto", as ``metrics.mia``) calls
    non-members. Members are |test| retained training interactions drawn with ``seed``
    (``select_members``), non-members the held-out test interactions; the one feature is the
    model's log-confidence in the pair, the log-softmax of the item's score over all items
    for the user. ``per_sample`` is 1.0 for each forgotten interaction called a non-member.

    Departure from the reference's confidence feature: item probabilities over hundreds of
    items are ~1e-3, where the RBF kernel of width 1 sees every value as the same and the
    attack calls everything one thing; their logarithm spreads over several units.
    """
    for name, a in (("retain", retain), ("test", test), ("forget", forget)):
        if len(a) == 0:
            raise ValueError(f"interaction_mia_efficacy: no {name} interactions; the attack "
                             "needs members (retain), non-members (test) and targets (forget)")
        if not np.isfinite(a).all():
            raise ValueError(f"interaction_mia_efficacy: {name} log-confidences not finite")
    members = np.asarray(retain, np.float64)[select_members(len(retain), len(test), seed)]
    x = np.concatenate([members, np.asarray(test, np.float64)]).reshape(-1, 1)
    y = np.concatenate([np.ones(len(members)), np.zeros(len(test))])
    clf = SVC(C=_SVC_C, gamma="auto", kernel="rbf")
    clf.fit(x, y)
    non_member = (clf.predict(np.asarray(forget, np.float64).reshape(-1, 1)) == 0)
    return MetricValue(100.0 * float(non_member.mean()), non_member.astype(np.float64))


def rec_gap(unlearned: Mapping[str, float], oracle: Mapping[str, float]) -> float:
    """Mean over ``REC_GAP_METRICS`` of |unlearned - oracle|, in percentage points; every one
    must be present and finite in both (a missing oracle value has no default)."""
    for label, values in (("unlearned", unlearned), ("oracle", oracle)):
        missing = [k for k in REC_GAP_METRICS if k not in values]
        if missing:
            raise ValueError(f"rec_gap: {label} values lack {', '.join(missing)}")
        bad = [k for k in REC_GAP_METRICS if not math.isfinite(float(values[k]))]
        if bad:
            raise ValueError(f"rec_gap: {label} values are not finite for {', '.join(bad)}")
    gaps = [abs(float(unlearned[k]) - float(oracle[k])) for k in REC_GAP_METRICS]
    return sum(gaps) / len(gaps)
