"""How recommendation runs are judged and shown (``views.kinds.VIEWS["recommendation"]``).

Read from the record alone (no torch). The verdict's rule, like the classifiers':

* forgetting compares the mean signed gap to the oracle of Forget rank and MIA-Eff
  (interactions) — both higher when more is forgotten — with a slack of max(the noise floor's
  mean gap, one forget interaction = 100 / |D_f| points): within it, reached; above, over-shot
  (forgotten interactions pushed further down the lists than a model that never saw them puts
  them, a signature an attacker can read); below, not reached;
* utility holds when Recall@20 and NDCG@20 are each no more than max(the noise floor's gap,
  1 point) below the oracle's.
"""

from __future__ import annotations

import statistics
from typing import Any

from obliviate.views.verdict import Verdict

FORGETTING = ("Forget rank", "MIA-Eff (interactions)")
UTILITY = ("Recall@20", "NDCG@20")

LEGEND = (
    "Recall@20 / NDCG@20: ranking quality on the retained users' held-out interactions (%, "
    "known items filtered). Forget rank: mean percentile of the forgotten interactions in "
    "their users' lists (0 = top, 100 = bottom; the oracle's value is the target). Hit@20 "
    "D_f: % of forgotten interactions still in the user's top 20. MIA-Eff: % of forgotten "
    "interactions a membership attack on the item's log-probability calls unseen. Rec.Gap: "
    "mean |method - oracle| over Recall@20, NDCG@20, Forget rank and MIA-Eff, in points "
    "(lower is better; ranked by it). Noise floor: an exact retrain from another "
    "initialisation. Marks: the run's verdict (views/recommendation.py). time s / % retrain: "
    "the unlearning call's wall time and its share of the oracle's training time.")


def _gap(record: dict[str, Any], metric: str, role: str) -> float:
    m = record["metrics"].get(metric) or {}
    v, o = m.get(role), m.get("oracle")
    if v is None or o is None:
        raise ValueError(f"verdict: the record lacks {metric} for {role} or the oracle")
    return float(v) - float(o)


def recommendation_verdict(record: dict[str, Any]) -> Verdict:
    has_floor = (record["metrics"].get("Forget rank") or {}).get("independent") is not None
    n_forget = int(record["scenario"].get("sizes", {}).get("forget", 0)) or 1
    signed = statistics.mean(_gap(record, m, "unlearned") for m in FORGETTING)
    floor = statistics.mean(abs(_gap(record, m, "independent")) for m in FORGETTING) \
        if has_floor else 0.0
    slack = max(floor, 100.0 / n_forget)
    forgetting = ("reached" if abs(signed) <= slack else
                  "over-shot" if signed > 0 else "not reached")
    drops = {}
    for m in UTILITY:
        floor_m = abs(_gap(record, m, "independent")) if has_floor else 0.0
        drop = -_gap(record, m, "unlearned")
        if drop > max(floor_m, 1.0):
            drops[m] = drop
    where = "the noise floor" if has_floor else "one forget interaction"
    line = (f"verdict: forgetting {forgetting} (Forget rank and MIA-Eff {signed:+.2f} points "
            f"from the oracle on average; within {slack:.2f} = {where} counts as reached); "
            "utility " + ("held" if not drops else "lost (" + ", ".join(
                f"{m} {d:.2f} points below the oracle" for m, d in drops.items()) + ")"))
    return Verdict(forgetting, "lost" if drops else "held", line)
