"""Regression metrics (METRICS.md, "Regression"): errors, a loss-based membership attack, the
distance between prediction distributions, and the gap to the oracle.

Pure functions of targets and predictions (numpy arrays, the target's own units). Tarun et
al., "Deep Regression Unlearning" (ICML 2023; ayushkumartarun/deep-regression-unlearning
``metrics.py``) adapt the classifiers' metrics to regression: the membership attack is fit
on each sample's loss instead of its confidence, and the distance to the retrained model is
the Wasserstein distance between prediction distributions instead of a divergence between
softmax outputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy.stats import wasserstein_distance

from obliviate.metrics.mia import select_members
from obliviate.metrics.values import MetricValue

# The gap's four components; the three errors are MAE in % of the training targets'
# standard deviation ("nMAE"), the last is in percent: all four read in percentage points.
GAP_PARTS: tuple[str, ...] = ("nMAE (D_f)", "nMAE (D_r)", "nMAE (D_t)", "MIA-Eff (loss)")


def _check(y: np.ndarray, p: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(f"{name}: targets {y.shape} and predictions {p.shape} must be the "
                         "same 1-D shape")
    if len(y) == 0:
        raise ValueError(f"{name}: no samples")
    return y, p


def mse(y: np.ndarray, p: np.ndarray) -> MetricValue:
    """Mean squared error; per sample the squared error (target units squared)."""
    y, p = _check(y, p, "mse")
    sq = (p - y) ** 2
    return MetricValue(float(sq.mean()), sq)


def mae(y: np.ndarray, p: np.ndarray) -> MetricValue:
    """Mean absolute error; per sample the absolute error (target units)."""
    y, p = _check(y, p, "mae")
    err = np.abs(p - y)
    return MetricValue(float(err.mean()), err)


def r2(y: np.ndarray, p: np.ndarray) -> float | None:
    """Coefficient of determination 1 - SS_res / SS_tot over these samples (their own
    variance, as ``sklearn.metrics.r2_score``); None when the targets are all equal (a range
    forget set of one value), where it is undefined."""
    y, p = _check(y, p, "r2")
    ss_tot = float(((y - y.mean()) ** 2).sum())
    if ss_tot == 0.0:
        return None
    return 1.0 - float(((y - p) ** 2).sum()) / ss_tot


def loss_threshold(member_loss: np.ndarray, nonmember_loss: np.ndarray) -> float:
    """The loss threshold tau of Yeom et al.'s attack (CSF 2018: a sample is a member iff its
    loss <= tau) that best tells members from non-members: tau maximises TPR - FPR (Youden's
    J, i.e. balanced accuracy) over the observed losses; among ties, the smallest."""
    m = np.asarray(member_loss, np.float64)
    n = np.asarray(nonmember_loss, np.float64)
    candidates = np.unique(np.concatenate([m, n]))
    tpr = np.searchsorted(np.sort(m), candidates, side="right") / len(m)
    fpr = np.searchsorted(np.sort(n), candidates, side="right") / len(n)
    return float(candidates[int(np.argmax(tpr - fpr))])  # argmax: the first (smallest) tie


def loss_mia_efficacy(retain_loss: np.ndarray, test_loss: np.ndarray,
                      forget_loss: np.ndarray, *, seed: int) -> MetricValue:
    """MIA-Efficacy on the loss: % of D_f a membership attack on the loss calls non-members.

    The classifiers' MIA-Efficacy (``metrics.mia``: members |D_t| samples of D_r drawn with
    ``seed``, ``select_members``; non-members D_t; the share of D_f called non-members) with
    Tarun et al.'s feature, each sample's loss, and Yeom et al.'s loss-threshold attack
    (``loss_threshold``) in place of the RBF SVM. ``per_sample`` is 1.0 for each forget
    sample called a non-member (loss above the threshold). Any increasing function of the
    loss (squared or absolute error, in any units) gives the same attack.

    Departure from the reference (``get_membership_attack_prob``: SVC(C=3, gamma="auto") on
    the L1 loss, members a sample of all training data, the member share of D_f reported):
    an RBF SVM labels every loss beyond the range it was fit on by its bias, so memorised
    outliers, whose losses under a model that never saw them lie far beyond every test loss,
    came out as members (the oracle's MIA-Efficacy on the outliers scenario, seed 3: 4.8%).
    A threshold on the loss is monotone: a larger loss is never more of a member. The ideal is
    the oracle's value, not 100.
    """
    for name, a in (("retain", retain_loss), ("test", test_loss), ("forget", forget_loss)):
        if len(a) == 0:
            raise ValueError(f"loss_mia_efficacy: no {name} losses; the attack needs members "
                             "(retain), non-members (test) and targets (forget)")
    members = np.asarray(retain_loss, np.float64)[select_members(len(retain_loss),
                                                                 len(test_loss), seed)]
    tau = loss_threshold(members, np.asarray(test_loss, np.float64))
    non_member = (np.asarray(forget_loss, np.float64) > tau).astype(np.float64)
    return MetricValue(100.0 * float(non_member.mean()), non_member)


def wasserstein(p: np.ndarray, q: np.ndarray) -> float:
    """W1 between the distributions of two models' predictions on the same samples (target
    units): Tarun et al.'s distance of an unlearned model's outputs on D_f to the retrained
    model's (``scipy.stats.wasserstein_distance``, as their notebooks call it)."""
    if len(p) == 0 or len(q) == 0:
        raise ValueError("wasserstein: both prediction sets must be non-empty")
    return float(wasserstein_distance(np.asarray(p, np.float64), np.asarray(q, np.float64)))


def normalised(mae_value: float, target_std: float) -> float:
    """An MAE as % of the training targets' standard deviation (``nMAE``): errors of every
    data set and split on one scale, comparable with a percentage like MIA-Efficacy."""
    if not target_std > 0:
        raise ValueError(f"normalised: the target std must be > 0, got {target_std}")
    return 100.0 * mae_value / target_std


def gap(unlearned: Mapping[str, float], oracle: Mapping[str, float]) -> float:
    """The gap to the oracle: mean over ``GAP_PARTS`` of |unlearned - oracle|, in points.

    Each error is the MAE in % of the training targets' standard deviation (``normalised``),
    so an MAE off by a tenth of a standard deviation counts 10 points, as a membership attack
    off by 10% of the forget set does. Every part must be present and finite in both.
    """
    for label, values in (("unlearned", unlearned), ("oracle", oracle)):
        missing = [k for k in GAP_PARTS if k not in values]
        if missing:
            raise ValueError(f"gap: {label} values lack {', '.join(missing)}")
        bad = [k for k in GAP_PARTS if not math.isfinite(float(values[k]))]
        if bad:
            raise ValueError(f"gap: {label} values are not finite for {', '.join(bad)}")
    return sum(abs(float(unlearned[k]) - float(oracle[k])) for k in GAP_PARTS) / len(GAP_PARTS)
