"""MUSE six-way metrics (METRICS.md, "Language models (MUSE six-way)"): Shi et al. 2024,
arXiv:2407.06460.

Checked against the reference code, swj0419/muse_bench: ``eval.py`` reads VerbMem and
KnowMem as ``agg["mean_rougeL"] * 100``, and its ``RougeEvalLogger`` (the same class in
jaechan-repo/muse_bench ``verbmem/get_rouge.py`` and ``knowmem/get_rouge_qa.py``) stores
``rougeL`` as ``score["rougeL"].fmeasure`` from ``RougeScorer(..., use_stemmer=False)``
called as ``score(gt, output)``. So both use ROUGE-L **F1** without stemming, in percent
(TOFU, unlike MUSE, stems: ``metrics/rouge.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from obliviate.metrics.rouge import rouge_l
from obliviate.metrics.values import MetricValue


def _rouge_l_f1(predictions: Sequence[str], references: Sequence[str], what: str) -> MetricValue:
    if len(predictions) != len(references):
        raise ValueError(f"{what}: {len(predictions)} model outputs but {len(references)} "
                         "references; they must be paired one to one")
    if len(predictions) == 0:
        raise ValueError(f"{what}: no samples; nothing to measure")
    f1 = np.array([rouge_l(p, r, stem=False).f1
                   for p, r in zip(predictions, references, strict=True)])
    return MetricValue(value=100.0 * float(f1.mean()), per_sample=f1)


def verbmem(continuations: Sequence[str], references: Sequence[str]) -> MetricValue:
    """VerbMem on D_f: ROUGE-L F1 between the greedy continuation of a forget-text prefix and
    the true continuation (MUSE: 128 new tokens, true continuation cut to 128 tokens).

    ``value`` is the mean F1 in percent (MUSE's ``mean_rougeL * 100``); ``per_sample`` the F1
    in [0, 1]. Continuations must not include the prompt (MUSE strips it before scoring).
    """
    return _rouge_l_f1(continuations, references, "verbmem")


def knowmem(answers: Sequence[str], references: Sequence[str]) -> MetricValue:
    """KnowMem on D_f or D_r: ROUGE-L F1 between the model's answers and the true answers.

    MUSE prompts with few-shot QA pairs and cuts the answer at the first "\\n\\n" or
    "Question"; that is the probe's job. ``value`` in percent, ``per_sample`` F1 in [0, 1].
    """
    return _rouge_l_f1(answers, references, "knowmem")


class UndefinedMetric(ValueError):
    """The metric has no value on these inputs (not a bad input): recorded as None with this
    reason, never replaced by a made-up number."""


def muse_auc(auc_members_high: float) -> float:
    """MUSE's orientation of the Min-K% AUC, from ours: ``1 - auc``.

    ``mia_auc`` ranks "looks trained on" high with D_f as the positive class. muse_bench
    ``metrics/privleak.py`` (``eval``, key ``forget_holdout_Min-40%``) labels D_f 0 and D_h 1
    and ranks by ``-Min-40%`` (``sweep``: ``roc_curve(y, -ppl)``, where ``Min-40%`` is minus
    the mean of the lowest 40% token log-probabilities): the same ranking with the positive
    class swapped, so its AUC is exactly ``1 - ours`` (ties count one half in both). A model
    never trained on D_f scores about 0.5 in both; the trained target about 0 in MUSE's.
    """
    if not (math.isfinite(auc_members_high) and 0.0 <= auc_members_high <= 1.0):
        raise ValueError(f"muse_auc: expected a ROC-AUC in [0, 1], got {auc_members_high!r}")
    return 1.0 - auc_members_high


def privleak(auc_unlearned: float, auc_oracle: float | None) -> float:
    """PrivLeak in MUSE's convention: ``(AUC_m(θ_u) - AUC_m(θ_r)) / AUC_m(θ_r) x 100``.

    Arguments are ``mia_auc`` values (Min-K% with k = 0.4, D_f members vs D_h non-members,
    higher = "looks trained on"); ``AUC_m = muse_auc(...) = 1 - AUC`` is MUSE's orientation
    (muse_bench ``eval.py``: ``(auc[key] - AUC_RETRAIN[key]) / AUC_RETRAIN[key] * 100``).
    Ideal 0. Strongly negative (about -100 for MUSE's targets): under-unlearned, the forget
    texts still look trained on. Large positive: over-unlearned, the forget texts now look
    *less* familiar than never-seen ones.

    Departures from muse_bench, on purpose: the oracle's AUC is the run's own retrained model,
    never a stored constant (muse_bench uses ``AUC_RETRAIN``; open-unlearning falls back to a
    default ``ref_value`` with a warning), and a missing or degenerate oracle AUC is an error.
    Min-K% keeps at least one token (``max(1, int(n k))``; muse_bench's ``int(n k)`` averages
    an empty slice for texts under 3 tokens).
    """
    if auc_oracle is None or not math.isfinite(auc_oracle):
        raise ValueError(f"PrivLeak needs the oracle's AUC (Min-K% AUC of the retrained model on "
                         f"D_f vs D_h); got {auc_oracle!r}")
    reference = muse_auc(auc_oracle)
    if reference == 0:
        raise UndefinedMetric("PrivLeak is undefined: the oracle ranks every forget text above "
                              "every holdout text (MUSE-oriented AUC 0), so there is nothing "
                              "to divide by")
    return (muse_auc(auc_unlearned) - reference) / reference * 100.0
