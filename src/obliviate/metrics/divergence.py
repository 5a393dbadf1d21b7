"""Output divergence to the oracle (METRICS.md, "Output divergence to the oracle")."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import log_softmax

from obliviate.metrics.values import MetricValue

LN2 = math.log(2.0)


def js_divergence(p_logits: np.ndarray, q_logits: np.ndarray) -> MetricValue:
    """Per-sample Jensen-Shannon divergence, in nats, between softmax(p) and softmax(q).

    JS(P, Q) = KL(P || M) / 2 + KL(Q || M) / 2 with M = (P + Q) / 2, so 0 <= JS <= ln 2.
    ``value`` is the mean over samples. Rows are matched by position (sample i of the
    unlearned model against sample i of the oracle).

    Computed in log space throughout: ``KL(P || M) = sum_i P_i (log P_i - log M_i)`` with
    the log-ratio formed from log-probabilities (``_kl_to_mixture``), summing only where
    ``P_i > 0`` (a class whose probability underflows to 0 contributes 0, its limit).
    Softmax probabilities are never divided, so logit gaps of hundreds (float64 ``exp``
    underflows below about -745) give a finite value; round-off is clipped into [0, ln 2].
    """
    p_logits = np.asarray(p_logits, dtype=np.float64)
    q_logits = np.asarray(q_logits, dtype=np.float64)
    if p_logits.ndim != 2 or p_logits.shape != q_logits.shape:
        raise ValueError(f"js_divergence: logits must both be (n, c) with the same shape, got "
                         f"{p_logits.shape} and {q_logits.shape}")
    if p_logits.shape[0] == 0:
        raise ValueError("js_divergence: logits are empty (0 samples); nothing to measure")
    if not (np.isfinite(p_logits).all() and np.isfinite(q_logits).all()):
        raise ValueError("js_divergence: logits must be finite (a diverged model gives NaN/inf)")
    log_p, log_q = log_softmax(p_logits, axis=1), log_softmax(q_logits, axis=1)
    js = 0.5 * _kl_to_mixture(log_p, log_q) + 0.5 * _kl_to_mixture(log_q, log_p)
    js = np.clip(js, 0.0, LN2)
    return MetricValue(value=float(js.mean()), per_sample=js)


def _kl_to_mixture(log_a: np.ndarray, log_b: np.ndarray) -> np.ndarray:
    """Row-wise KL(A || M), M = (A + B) / 2, from log-probabilities; 0 log 0 = 0.

    ``log A_i - log M_i = ln 2 - log(1 + B_i / A_i) = ln 2 - logaddexp(0, log B_i - log A_i)``:
    exactly 0 where A_i = B_i (identical rows give JS = 0, not round-off), at most ln 2, and
    finite wherever A_i > 0, however saturated B is. Where A_i underflowed to 0 the term is 0.
    """
    a = np.exp(log_a)
    terms = np.where(a > 0, a * (LN2 - np.logaddexp(0.0, log_b - log_a)), 0.0)
    return np.asarray(terms.sum(axis=1))
