"""The verdict of a regression run (``views.verdict``; registered in ``views.kinds``).

Errors are read as nMAE, the MAE in % of the training targets' standard deviation (the
gap's unit, METRICS.md "Regression"), so one tolerance serves every data set:

* forgetting: the forget-set error against the oracle's. Reached when within the slack
  max(the noise floor's distance from the oracle, ``TOLERANCE``); below the oracle's by more
  = not reached (the forget set is still fitted better than a model that never saw it does);
  above by more = over-shot (pushed beyond what never having seen it explains: a signature).
* utility: held when the retain and the test error are each no more than max(their noise
  floor distance, ``TOLERANCE``) above the oracle's.

Without a noise floor in the record the slack is ``TOLERANCE`` alone.
"""

from __future__ import annotations

from typing import Any

from obliviate.views.verdict import Verdict

TOLERANCE = 1.0  # points of nMAE: an MAE within 1% of the targets' standard deviation


def regression_verdict(record: dict[str, Any]) -> Verdict:
    metrics = record["metrics"]

    def value(split: str, role: str) -> float | None:
        v = metrics.get(f"nMAE ({split})", {}).get(role)
        return None if v is None else float(v)

    def gap(split: str, role: str) -> float:
        v, o = value(split, role), value(split, "oracle")
        if v is None or o is None:
            raise ValueError(f"verdict: the record lacks nMAE ({split}) for {role} or the "
                             "oracle")
        return v - o

    has_floor = value("D_f", "independent") is not None

    def slack(split: str) -> float:
        return max(abs(gap(split, "independent")) if has_floor else 0.0, TOLERANCE)

    signed, forget_slack = gap("D_f", "unlearned"), slack("D_f")
    forgetting = ("reached" if abs(signed) <= forget_slack else
                  "over-shot" if signed > 0 else "not reached")
    rises = {s: gap(s, "unlearned") for s in ("D_r", "D_t")}
    lost = {s: r for s, r in rises.items() if r > slack(s)}
    where = "the noise floor's distance" if has_floor else "the tolerance"
    line = (f"verdict: forgetting {forgetting} (forget-set error {signed:+.2f} points of the "
            f"target's standard deviation from the oracle's; within {forget_slack:.2f} = "
            f"{where} or {TOLERANCE:g} counts as reached); utility "
            + ("held" if not lost else "lost (" + ", ".join(
                f"{s} error {r:.2f} points above the oracle's" for s, r in lost.items())
               + ")"))
    return Verdict(forgetting, "lost" if lost else "held", line)
