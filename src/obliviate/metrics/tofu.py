"""TOFU metrics (METRICS.md, "Language models (TOFU)"): Maini et al. 2024, arXiv:2401.06121.

Pure functions of ``TokenScores`` (answer tokens only, question as context). Checked against
the reference code: locuslab/tofu ``evaluate_util.py`` (per-token losses, truth ratio,
normalised probability) and ``aggregate_eval_stat.py`` (forget quality, model utility), and
locuslab/open-unlearning ``src/evals/metrics/memorization.py`` (the same definitions).
All probabilities are length-normalised, ``P(a|q)^(1/|a|) = exp(mean token log-prob)``, and
combined in log space so long answers never underflow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.special import logsumexp
from scipy.stats import hmean, ks_2samp

from obliviate.metrics.lm_inputs import TokenScores
from obliviate.metrics.values import MetricValue


def _require_options(options: Sequence[TokenScores], what: str) -> np.ndarray:
    """Mean log-probabilities of the options; an empty list is an error, never a ratio of 1."""
    if len(options) == 0:
        raise ValueError(f"{what}: needs at least one perturbed (wrong) answer, got none")
    return np.array([o.mean_logprob for o in options])


def answer_probability(s: TokenScores) -> float:
    """``P(a|q)^(1/|a|) = exp(mean_t log p(a_t | q, a_<t))`` (TOFU "Probability").

    TOFU: ``exp(-avg_gt_loss)`` with the loss summed over answer tokens and divided by their
    number (locuslab/tofu evaluate_util.py, ``gt_loss / num_token_gt``).
    """
    return float(np.exp(s.mean_logprob))


def normalised_probability(true: TokenScores, options: Sequence[TokenScores]) -> float:
    """TOFU "Probability" on utility sets with options (real authors, world facts).

    ``P_true^(1/|a|) / (P_true^(1/|a|) + sum_j P_j^(1/|a_j|))`` over the true answer and the
    perturbed (wrong) options, as in locuslab/tofu evaluate_util.py (``normalized_gt_loss``:
    ``truth_prob / [truth_prob, *perturb_prob].sum()``) and aggregate_eval_stat.py. Unlike
    open-unlearning (``probability_w_options``) no 1e-10 is added to the denominator; the
    ratio is computed as ``exp(m_true - logsumexp(m_true, m_1, ...))`` with ``m`` the mean
    token log-probabilities, which is exact and cannot divide by zero.
    """
    m_wrong = _require_options(options, "normalised_probability")
    m_all = np.concatenate([[true.mean_logprob], m_wrong])
    return float(np.exp(true.mean_logprob - logsumexp(m_all)))


def truth_ratio(paraphrased: TokenScores, perturbed: Sequence[TokenScores]) -> float:
    """``R = (geometric mean_j P(â_j|q)^(1/|â_j|)) / P(ã|q)^(1/|ã|)``, in log space.

    ``ã`` is the paraphrased correct answer and ``â_j`` the perturbed wrong ones;
    ``log R = mean_j m(â_j) - m(ã)`` with ``m`` the mean token log-probability. This is
    locuslab/tofu evaluate_util.py ``exp(gt_loss_per_token - perturb_loss_per_token.mean(-1))``.
    R < 1: the model prefers the correct answer; R near 1: it cannot tell them apart.
    """
    m_wrong = _require_options(perturbed, "truth_ratio")
    with np.errstate(over="ignore"):  # |log R| > ~709 saturates to 0 or inf (see _ratios)
        return float(np.exp(m_wrong.mean() - paraphrased.mean_logprob))


def _ratios(ratios: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    """Truth ratios as a float64 vector: NaN and negative values are errors; 0 and inf are not.

    ``R = exp(log R)`` underflows to 0 when the paraphrased answer is more than ~745 nats per
    token likelier than the perturbed ones, and overflows to inf past ~709 the other way:
    both happen on over-unlearned models with saturated logits (measured: NegGrad+ on
    people-small). locuslab/tofu's ``np.exp`` gives the same 0 and inf, so they are kept as
    the IEEE limits they are; the scores below take their limits and the KS test only ranks.
    """
    if ratios is None:
        raise ValueError(f"{what}: got None; expected a 1-D array of truth ratios")
    r = np.array(ratios, dtype=np.float64)
    if r.ndim != 1 or r.shape[0] == 0:
        raise ValueError(f"{what}: expected a non-empty 1-D array of truth ratios, got shape "
                         f"{r.shape}")
    bad = np.isnan(r) | (r < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{what}: truth ratios are ratios of probabilities and must be >= 0, "
                         f"got {int(bad.sum())} NaN or negative value(s), first at index {i}: "
                         f"{r[i]}")
    return r


def truth_ratio_forget_score(ratios: Sequence[float] | np.ndarray) -> MetricValue:
    """Forget-set Truth Ratio: mean ``min(R, 1/R)`` (1 = cannot tell right from wrong).

    aggregate_eval_stat.py ``np.minimum(curr_stat_1, 1/curr_stat_1)``; that code's ratio is
    1/R, and ``min(x, 1/x)`` is the same for R and 1/R. Per sample in [0, 1]; value = mean.
    """
    r = _ratios(ratios, "truth_ratio_forget_score")
    with np.errstate(divide="ignore"):  # R = 0 gives 1/R = inf and min(0, inf) = 0, its limit
        per_sample = np.minimum(r, 1.0 / r)
    return MetricValue(value=float(per_sample.mean()), per_sample=per_sample)


def truth_ratio_utility_score(ratios: Sequence[float] | np.ndarray) -> MetricValue:
    """Retain / utility-set Truth Ratio: mean ``max(0, 1 - R)`` (1 = wrong answers ~ impossible).

    aggregate_eval_stat.py ``np.maximum(0, 1 - 1/curr_stat_1)`` with ``curr_stat_1 = 1/R``.
    Per sample in [0, 1); value = mean.
    """
    r = _ratios(ratios, "truth_ratio_utility_score")
    per_sample = np.maximum(0.0, 1.0 - r)
    return MetricValue(value=float(per_sample.mean()), per_sample=per_sample)


def forget_quality(ratios_unlearned: Sequence[float] | np.ndarray,
                   ratios_oracle: Sequence[float] | np.ndarray | None) -> tuple[float, int]:
    """(p-value, number of questions) of the two-sample KS test between per-question R.

    R on D_f under the unlearned model against R on the same questions under the oracle
    (aggregate_eval_stat.py ``ks_2samp(unlearn_truth_ratio, retain_truth_ratio).pvalue``,
    scipy's default ``method="auto"``, exact for small samples). That code tests 1/R; the KS
    statistic depends only on the ranks of the pooled sample and a strictly monotone map
    keeps them (reversed), so the p-value is identical. The floor of the p-value depends on
    the number of questions, so it is returned beside it (METRICS.md).
    """
    if ratios_oracle is None or len(ratios_oracle) == 0:
        raise ValueError("forget quality needs the oracle's truth ratios (R on D_f under the "
                         "retrained model); got none")
    u = _ratios(ratios_unlearned, "forget_quality (unlearned ratios)")
    o = _ratios(ratios_oracle, "forget_quality (oracle ratios)")
    if u.shape != o.shape:
        raise ValueError(f"forget_quality: the unlearned and oracle truth ratios must cover the "
                         f"same forget questions, got {u.shape[0]} and {o.shape[0]}")
    return float(ks_2samp(u, o).pvalue), int(u.shape[0])


def model_utility(components: Mapping[str, float]) -> float:
    """Harmonic mean of every given component (aggregate_eval_stat.py ``hmean``).

    TOFU passes nine numbers: {Probability, ROUGE-L recall, Truth Ratio} on the retain set,
    real authors and world facts. A component of 0 makes the harmonic mean 0 (handled here
    explicitly: scipy warns on it, and the project runs with warnings as errors).
    """
    if not components:
        raise ValueError("model_utility: no components given; expected e.g. "
                         "{'Prob. Retain': ..., 'ROUGE Retain': ..., 'Truth Ratio Retain': ...}")
    bad = {k: v for k, v in components.items() if not np.isfinite(v) or v < 0}
    if bad:
        raise ValueError(f"model_utility: components must be finite and >= 0, got {bad}")
    values = np.array(list(components.values()), dtype=np.float64)
    if (values == 0).any():
        return 0.0
    return float(hmean(values))
