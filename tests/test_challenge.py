"""The NeurIPS 2023 challenge score (``metrics/challenge.py``) against a re-derivation of the
challenge's ``metric.py`` written here in torch, on the CPU and in float32 rates as there, on
random cases and on cases where the challenge's score and our strict variant disagree."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from obliviate.metrics.challenge import (
    EPSILON_CAP,
    bucket_points,
    challenge_confidence,
    example_epsilon,
    example_score,
    forgetting_quality,
    torch_linspace,
)
from obliviate.metrics.shadow import strict_forgetting_quality

DELTA = 1e-5


def _rates(pos: torch.Tensor, neg: torch.Tensor, left: torch.Tensor | None,
           right: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(tpr, fnr, fpr, tnr) as float32 means over models, as metric.py takes them."""
    if left is None:  # single thresholds: c >= t is positive
        pp_pos = pos[:, None] >= right[None, :]
        pp_neg = neg[:, None] >= right[None, :]
    else:
        pp_pos = (left[None, :] <= pos[:, None]) & (pos[:, None] <= right[None, :])
        pp_neg = (left[None, :] <= neg[:, None]) & (neg[:, None] <= right[None, :])
    f = torch.float32
    return (pp_pos.to(f).mean(0), (~pp_pos).to(f).mean(0), pp_neg.to(f).mean(0),
            (~pp_neg).to(f).mean(0))


def _reference_epsilon(pos_np: np.ndarray, neg_np: np.ndarray) -> float:
    pos_diff, neg_diff = np.max(pos_np) - np.min(pos_np), np.max(neg_np) - np.min(neg_np)
    largest, smallest = max(pos_diff, neg_diff), min(pos_diff, neg_diff)
    if largest > 0 and smallest / largest < 0.01:
        return EPSILON_CAP
    pos, neg = torch.from_numpy(pos_np), torch.from_numpy(neg_np)
    # double thresholds, around the peakier group
    p_d, n_d = (neg, pos) if pos_diff >= neg_diff else (pos, neg)
    width = float(smallest)
    lo = float(p_d.min()) + width - 2.0
    hi = float(p_d.max()) + 2.0
    rights = np.linspace(lo, hi, num=int(np.ceil((hi - lo) * 100)))
    lefts = np.concatenate([np.linspace(t - width - 2.0, t - width + 2.0, num=400)
                            for t in rights])
    rates_d = _rates(p_d, n_d, torch.from_numpy(lefts),
                     torch.from_numpy(np.repeat(rights, 400)))
    # single thresholds over the pooled range, with torch's own linspace
    both = torch.cat([pos, neg])
    n_s = int(torch.ceil((both.max() - both.min()) * 100))
    rates_s = _rates(pos, neg, None, torch.linspace(both.min(), both.max(), n_s,
                                                    dtype=torch.float64))
    tpr, fnr, fpr, tnr = (torch.cat([a, b]).numpy() for a, b in zip(rates_d, rates_s,
                                                                      strict=True))
    eps = np.zeros(len(tpr))
    perfect = (fpr + fnr == 0) & (tpr + tnr == 2)
    eps[perfect] = np.inf
    eps[~perfect & (fpr * fnr == 0)] = np.nan
    live = eps == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.log(1 - DELTA - fpr[live]) - np.log(fnr[live])
        b = np.log(1 - DELTA - fnr[live]) - np.log(fpr[live])
    eps[live] = np.clip(np.fmax(a, b), 0, None)
    kept = eps[~np.isnan(eps)]
    assert kept.size, "every threshold discarded"
    return float(np.clip(kept.max(), 0, EPSILON_CAP))


def _reference_score(unlearned: np.ndarray, retrained: np.ndarray) -> tuple[float, np.ndarray]:
    r_pos = np.median(retrained, axis=0) > np.median(unlearned, axis=0)
    pos = np.where(r_pos, retrained, unlearned)
    neg = np.where(r_pos, unlearned, retrained)
    eps = np.array([_reference_epsilon(pos[:, i], neg[:, i]) for i in range(pos.shape[1])])
    k = unlearned.shape[0]
    top = np.ceil(np.log(k - 1))
    buckets, start, points = {}, 0.0, 1.0
    while start + 0.5 <= top:
        buckets[start] = points
        points, start = points / 2, start + 0.5
    score = 0.0
    for e in eps:
        for s, pts in buckets.items():
            if e < s + 0.5:
                score += pts
                break
    return score / pos.shape[1], eps


@pytest.mark.parametrize("k", [3, 4, 6, 16])
def test_matches_the_challenges_metric_on_random_confidences(k: int) -> None:
    """Random shifts and spreads per example, so that examples fall in every bucket."""
    rng = np.random.default_rng(k)
    n = 25
    shift = rng.uniform(-1.5, 1.5, n)
    u = rng.normal(shift, rng.uniform(0.3, 2.0, n), size=(k, n))
    r = rng.normal(0.0, rng.uniform(0.3, 2.0, n), size=(k, n))
    ours, eps = forgetting_quality(u, r)
    theirs, their_eps = _reference_score(u, r)
    assert ours == pytest.approx(theirs, abs=1e-12)
    np.testing.assert_allclose(eps, their_eps, rtol=1e-6, atol=1e-6)
    assert len(set(np.round(eps, 3))) >= (2 if k == 3 else 3)  # the cases are not all alike


def test_peaky_rule_and_perfect_separation() -> None:
    """Unlearned models that all agree (range 0) against spread retrained ones: the ratio of
    ranges 0 < 1% is "peaky", epsilon 50 at once. Two separated groups: FPR = FNR = 0 at a
    threshold between them, epsilon 50. Both score 0."""
    r = np.array([0.0, 1.0, 2.0, 3.0])
    assert example_epsilon(np.full(4, 1.5), r) == EPSILON_CAP
    assert _reference_epsilon(np.full(4, 1.5), r) == EPSILON_CAP
    assert example_epsilon(np.array([5.0, 6.0, 7.0]), np.array([0.0, 1.0, 2.0])) == EPSILON_CAP
    assert example_score(EPSILON_CAP, 4) == 0.0


def test_buckets_depend_on_the_number_of_models() -> None:
    """ceil(log(K - 1)): K = 4 -> ceil(1.0986) = 2, buckets [0, .5) [.5, 1) [1, 1.5) [1.5, 2)
    worth 1, 1/2, 1/4, 1/8; K = 512 (the challenge) -> ceil(6.236) = 7, 14 buckets."""
    assert bucket_points(4) == [(0.0, 1.0), (0.5, 0.5), (1.0, 0.25), (1.5, 0.125)]
    assert len(bucket_points(512)) == 14
    assert example_score(1.99, 4) == 0.125 and example_score(2.0, 4) == 0.0
    with pytest.raises(ValueError, match="at least 3 models"):
        bucket_points(2)


def test_where_the_challenge_and_the_strict_variant_disagree() -> None:
    """K = 4. Example 0: U = {0, 1, 2, 3.02}, R = {3.01, 4, 5, 6}: the best rule either way
    is "c < 3.5 is unlearned" (FPR = FNR = 1/4), epsilon = log(3/4 - 1e-5) - log(1/4) =
    1.0986, bucket [1, 1.5): 1/4 in both. Example 1: U within 0.003, R over 3.0: ranges
    0.003 / 3 = 0.1% < 1%, "peaky": the challenge gives epsilon 50 (score 0) without an
    attack, while the strict variant attacks and finds 1.0986 (score 1/4). So the challenge's
    F = (1/4 + 0) / 2 = 0.125 and the strict F = (1/4 + 1/4) / 2 = 0.25; ours equals the
    re-derived metric.py."""
    u = np.array([[0.0, 1.0], [1.0, 1.001], [2.0, 1.002], [3.02, 1.003]])
    r = np.array([[3.01, 0.0], [4.0, 1.0], [5.0, 2.0], [6.0, 3.0]])
    ours, eps = forgetting_quality(u, r)
    theirs, their_eps = _reference_score(u, r)
    assert ours == pytest.approx(theirs) and np.allclose(eps, their_eps, rtol=1e-6)
    by_hand = math.log(0.75 - DELTA) - math.log(0.25)
    assert eps == pytest.approx([by_hand, EPSILON_CAP]) and ours == 0.125
    strict, strict_eps = strict_forgetting_quality(u, r)
    assert strict_eps == pytest.approx([by_hand, by_hand]) and strict == 0.25


def test_torch_linspace_is_torchs_to_an_ulp() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        a, b = sorted(rng.normal(0, 20, 2))
        n = int(rng.integers(0, 3000))
        want = torch.linspace(a, b, n, dtype=torch.float64).numpy()
        got = torch_linspace(float(a), float(b), n)
        assert got.shape == want.shape
        assert np.all(np.abs(got - want) <= 2 * np.spacing(np.maximum(abs(a), abs(b))))


def test_challenge_confidence_is_metric_py_s() -> None:
    """log(p_y + 1e-45) - log(1 - p_y + 1e-45) after a max shift, by hand: logits [2, 0, -1],
    label 0: p = e^2 / (e^2 + 1 + e^-1); saturates at log(1) - log(1e-45) = 103.6."""
    logits = np.array([[2.0, 0.0, -1.0], [500.0, 0.0, 0.0]])
    conf = challenge_confidence(logits, np.array([0, 0]))
    p = math.exp(2) / (math.exp(2) + 1 + math.exp(-1))
    assert conf[0] == pytest.approx(math.log(p + 1e-45) - math.log(1 - p + 1e-45))
    assert conf[1] == pytest.approx(-math.log(1e-45))


def test_indistinguishable_constant_groups_score_one() -> None:
    """Every model of both groups gives 1.0: the reference's assert fails (nothing survives
    the discard rule); ours names that departure and returns epsilon 0, score 1."""
    u = np.ones((4, 1))
    q, eps = forgetting_quality(u, u.copy())
    assert eps[0] == 0.0 and q == 1.0
