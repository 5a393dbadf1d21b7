"""How graph runs are shown: the leaderboard's columns and legend, and the run's verdict
(registered in ``views.kinds.VIEWS``). Reads records only.

Verdict rule (graph runs), the classifiers' rule on the graph metrics: forgetting compares
the mean signed gap of Forget acc and Link AUC (Forget acc alone for a feature request) to
the oracle, with a slack of max(the noise floor's gap, one forget node = 100 / |D_f|
points): above it, the deleted data is still known (not reached); below minus it, the model
knows less than a model that never saw it (over-shot). Utility holds when Retain acc and
Test acc are each no more than max(the noise floor's gap, 1 point) below the oracle's.
"""

from __future__ import annotations

import statistics
from typing import Any

from obliviate.views.verdict import Verdict

FORGET_SIDE = ("Forget acc", "Link AUC")
UTILITY = ("Retain acc", "Test acc")

COLUMNS = (("Forget acc", "forget %", 2), ("Retain acc", "retain %", 2),
           ("Test acc", "test %", 2), ("Link AUC", "link AUC", 2), ("Graph gap", "gap", 2))

LEGEND = (
    "forget %: accuracy on the forget nodes (deleted nodes; for an edge request, the training "
    "nodes at the ends of the deleted edges), asked on the training graph; retain % / test %: "
    "accuracy on the retained training nodes / the test nodes, on the graph after the "
    "deletion; link AUC: link stealing (He et al. 2021), how well the model's posteriors tell "
    "the deleted edges from never-linked node pairs (the oracle's value is the target: "
    "homophily alone lifts it above 50; — for a feature request); gap: mean |method - "
    "oracle| over those four, in points (lower is better; ranked by it). Noise floor: an "
    "exact retrain from another initialisation. Marks: the run's verdict. time s: wall "
    "seconds of the unlearning call; % retrain: that over the oracle's training time.")


def _value(record: dict[str, Any], metric: str, role: str) -> float | None:
    m = record["metrics"].get(metric)
    return None if m is None else m.get(role)


def graph_verdict(record: dict[str, Any]) -> Verdict:
    has_floor = _value(record, "Forget acc", "independent") is not None
    n_forget = int(record["scenario"].get("sizes", {}).get("forget", 0)) or 1
    present = [m for m in FORGET_SIDE if _value(record, m, "oracle") is not None]

    def gap(metric: str, role: str) -> float:
        v, o = _value(record, metric, role), _value(record, metric, "oracle")
        if v is None or o is None:
            raise ValueError(f"verdict: the record lacks {metric} for {role} or the oracle")
        return float(v - o)

    if "Forget acc" not in present:
        raise ValueError("verdict: the record lacks Forget acc for the oracle")
    signed = statistics.mean(gap(m, "unlearned") for m in present)
    floor = statistics.mean(abs(gap(m, "independent")) for m in present) if has_floor else 0.0
    slack = max(floor, 100.0 / n_forget)
    forgetting = ("reached" if abs(signed) <= slack else
                  "not reached" if signed > 0 else "over-shot")
    drops = {}
    for m in UTILITY:
        floor_m = abs(gap(m, "independent")) if has_floor else 0.0
        drop = -gap(m, "unlearned")
        if drop > max(floor_m, 1.0):
            drops[m] = drop
    where = "the noise floor" if has_floor else "one forget node"
    line = (f"verdict: forgetting {forgetting} ({' and '.join(present)} {signed:+.2f} points "
            f"from the oracle on average; within {slack:.2f} = {where} counts as reached); "
            "utility " + ("held" if not drops else "lost (" + ", ".join(
                f"{m} {d:.2f} points below the oracle" for m, d in drops.items()) + ")"))
    return Verdict(forgetting, "lost" if drops else "held", line)
