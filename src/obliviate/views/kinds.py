"""How each kind of model is shown: its leaderboard columns, ranking rule, legend and verdict.

One registry (``VIEWS``) read by the plain-text tables, the HTML report and the dashboard, so
none of them asks which kind it holds beyond looking it up here. A kind without an entry gets
``generic_view``: its headline metric and the other metrics the registry lists for it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from obliviate.metrics.registry import METRICS, headline
from obliviate.views import graph_view
from obliviate.views.recommendation import LEGEND as _REC_LEGEND
from obliviate.views.recommendation import recommendation_verdict
from obliviate.views.verdict import (
    UTILITY_SHARE,
    Verdict,
    classifier_verdict,
    headline_verdict,
    lm_verdict,
)
from obliviate.views.verdict_regression import TOLERANCE, regression_verdict

Record = dict[str, Any]


@dataclass(frozen=True)
class KindView:
    """``columns``: (metric, header, digits). ``relative``: a (metric, header) shown as a
    share of the original's value. ``gate``: a mark for a method kept out of the ranking
    (None: ranked). ``verdict``: the run's verdict line."""

    label: str
    columns: tuple[tuple[str, str, int], ...]
    legend: str
    verdict: Callable[[Record], Verdict]
    relative: tuple[str, str] | None = None
    gate: Callable[[Sequence[Record]], str | None] = lambda recs: None


def _mean(recs: Sequence[Record], metric: str, role: str = "unlearned") -> float:
    return statistics.mean(float(r["metrics"][metric][role]) for r in recs)


def share_of_original(r: Record, metric: str, role: str = "unlearned") -> float | None:
    """``metric`` of ``role`` over the original's; None when the original's is 0."""
    m = r["metrics"][metric]
    return None if not m.get("original") or m.get(role) is None else m[role] / m["original"]


def _utility_gate(recs: Sequence[Record]) -> str | None:
    shares = [share_of_original(r, "Model utility") for r in recs]
    if any(s is None for s in shares):
        return None  # an original with no utility (an untrained model): nothing to lose
    share = statistics.mean(s for s in shares if s is not None)
    return None if share >= UTILITY_SHARE else f"utility lost: {share:.2f}x, not ranked"


_CLASSIFIER_LEGEND = (
    "UA: 100 - accuracy on the forget set; RA / TA: accuracy on the retain / test set; "
    "MIA-Eff: % of the forget set a membership attack calls unseen; Avg.Gap: mean |method - "
    "oracle| over those four, in points (lower is better; ranked by it). Noise floor: an exact "
    "retrain from another initialisation, as far from the oracle as exact unlearning lands. "
    "Marks: the run's verdict (views/verdict.py). time s: wall seconds of the unlearning "
    "call; % retrain: that over the oracle's training time.")

_LM_LEGEND = (
    "FQ: TOFU forget quality, the p-value of a KS test between the forget questions' truth "
    "ratios under the model and under the oracle (>= 0.05: cannot be told apart; with few "
    "questions it cannot fall very low). MU: model utility, the harmonic mean of answer "
    "probability, ROUGE-L recall and truth-ratio score on retain people and general facts (0 "
    "to 1); MU/orig: that over the untouched original's. EM forget / retain %: questions "
    "answered exactly. PrivLeak: MUSE's membership leak, 0 = like the oracle, about -100 = the "
    "forget texts still look trained on, positive = over-unlearned. Ranking: by mean FQ among "
    f"methods whose mean MU is >= {UTILITY_SHARE}x the original's; the others follow, marked "
    "and not ranked. Noise floor: an exact retrain from another initialisation. time s / % "
    "retrain: the unlearning call's wall time and its share of the oracle's training time.")

_REGRESSION_LEGEND = (
    "nMAE forget / retain / test: mean absolute error on the forget, retain and test set, in "
    "% of the training targets' standard deviation (the target's units in the run table); "
    "R² test: coefficient of determination on the test set; MIA-Eff: % of the forget set a "
    "membership attack on each sample's error calls unseen; Gap: mean |method - oracle| over "
    "the three nMAE and MIA-Eff, in points (lower is better; ranked by it). The target for "
    "the forget columns is the oracle's value. Noise floor: an exact retrain from another "
    "initialisation, as far from the oracle as exact unlearning lands. Marks: the run's "
    f"verdict (forget error within max(noise floor, {TOLERANCE:g} point) of the oracle's; "
    "retain and test errors no more than that above it). time s / % retrain: the unlearning "
    "call's wall time and its share of the oracle's training time.")

VIEWS: dict[str, KindView] = {
    "classification": KindView(
        label="", columns=(("UA", "UA", 2), ("RA", "RA", 2), ("TA", "TA", 2),
                           ("MIA-Eff", "MIA-Eff", 2), ("Avg.Gap", "Avg.Gap", 2)),
        legend=_CLASSIFIER_LEGEND, verdict=classifier_verdict),
    "lm": KindView(
        label="language model",
        columns=(("Forget quality", "FQ", 4), ("Model utility", "MU", 3),
                 ("Exact match (D_f)", "EM forget %", 1), ("Exact match (D_r)", "EM retain %", 1),
                 ("PrivLeak", "PrivLeak", 1)),
        relative=("Model utility", "MU/orig"), legend=_LM_LEGEND, verdict=lm_verdict,
        gate=_utility_gate),
    "regression": KindView(
        label="regression",
        columns=(("nMAE (D_f)", "nMAE forget", 2), ("nMAE (D_r)", "nMAE retain", 2),
                 ("nMAE (D_t)", "nMAE test", 2), ("R² (D_t)", "R² test", 3),
                 ("MIA-Eff (loss)", "MIA-Eff", 2), ("Gap", "Gap", 2)),
        legend=_REGRESSION_LEGEND, verdict=regression_verdict),
    "graph": KindView(label="graph", columns=graph_view.COLUMNS, legend=graph_view.LEGEND,
                      verdict=graph_view.graph_verdict),
    "recommendation": KindView(
        label="recommender",
        columns=(("Recall@20", "Recall@20", 2), ("NDCG@20", "NDCG@20", 2),
                 ("Forget rank", "Forget rank", 2), ("Hit@20 (D_f)", "Hit@20 D_f", 2),
                 ("MIA-Eff (interactions)", "MIA-Eff", 2), ("Rec.Gap", "Rec.Gap", 2)),
        legend=_REC_LEGEND, verdict=recommendation_verdict),
}


def generic_view(kind: str) -> KindView:
    """Headline first, then up to five more of the kind's registered metrics."""
    first = headline(kind)
    rest = [m for m in METRICS.values() if kind in m.kinds and m.name != first.name
            and m.name != "RTE"][:5]
    cols = tuple((m.name, m.name, 4 if m.unit not in ("%", "pp") else 2) for m in
                 (first, *rest))
    legend = " ".join(f"{m.name}: {m.description}." for m in (first, *rest)) + (
        f" Ranked by {first.name} ({'higher' if first.higher_is_better else 'lower'} is "
        "better). Noise floor: an exact retrain from another initialisation.")
    return KindView(label=kind, columns=cols, legend=legend, verdict=headline_verdict)


def view_for(kind: str) -> KindView:
    return VIEWS.get(kind) or generic_view(kind)


def rank_key(kind: str) -> Callable[[Sequence[Record]], float]:
    """Sort key of a method's records: its mean headline, best first."""
    h = headline(kind)
    sign = -1.0 if h.higher_is_better else 1.0
    if h.oracle_is_target:
        def gap(recs: Sequence[Record]) -> float:
            return statistics.mean(abs(float(r["metrics"][h.name]["unlearned"])
                                       - float(r["metrics"][h.name]["oracle"])) for r in recs)
        return gap
    return lambda recs: sign * _mean(recs, h.name)


def no_better_than_original(kind: str, recs: Sequence[Record], ref: Sequence[Record]) -> bool:
    """The method's mean headline is not better than the untouched original's."""
    h = headline(kind)
    if h.oracle_is_target:
        def gap(rs: Sequence[Record], role: str) -> float:
            return statistics.mean(abs(float(r["metrics"][h.name][role])
                                       - float(r["metrics"][h.name]["oracle"])) for r in rs)
        return gap(recs, "unlearned") >= gap(ref, "original")
    mine, orig = _mean(recs, h.name), _mean(ref, h.name, "original")
    return mine <= orig if h.higher_is_better else mine >= orig
