"""Did unlearning work? One verdict per run record, a user can act on.

Read from the record alone (no torch), so the CLI, the report's leaderboard and the dashboard
say the same thing. Three questions, each against the oracle and, where the record has one,
the noise floor (``independent``: an exact retrain from another initialisation, so "as close
to the oracle as exact retraining gets"):

* **forgetting**: reached, not reached (the forget set is still remembered beyond what the
  oracle and the noise floor show) or over-shot (forgotten beyond the oracle: a signature an
  attacker can read, e.g. a random forget set with accuracy far below the test accuracy);
* **utility**: held, or lost (by how much);
* **unchanged**: the method left every weight as it was (SSD selecting no weight, a learning
  rate too small): then nothing else matters and the verdict says so first.

Rules, per kind (the numbers are in the line, so a reader can check them):

* classifiers: forgetting compares the mean signed gap of UA and MIA-Eff to the oracle
  with a slack of max(the noise floor's gap, one forget sample = 100 / |D_f| points);
  utility holds when RA and TA are each no more than max(noise floor gap, 1 point) below the
  oracle's.
* language models: forgetting is reached when forget quality >= min(0.05, the noise floor's
  forget quality); otherwise the direction comes from the truth ratios (median above the
  oracle's: over-shot; below: not reached). Utility holds when model utility >= 0.9 x the
  original's, or >= the noise floor's (what exact retraining itself keeps).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from obliviate.storage.records import record_kind

UTILITY_SHARE = 0.9  # LM: model utility kept relative to the original (the project's bar)
FQ_BAR = 0.05  # TOFU: p >= 0.05, statistically indistinguishable from the oracle


@dataclass(frozen=True)
class Verdict:
    forgetting: str  # "reached" | "not reached" | "over-shot" | "unchanged"
    utility: str  # "held" | "lost" | "unchanged"
    line: str

    @property
    def ok(self) -> bool:
        return self.forgetting == "reached" and self.utility == "held"

    @property
    def short(self) -> str:
        """A leaderboard's mark: empty when the run worked."""
        if self.forgetting == "unchanged":
            return "model unchanged"
        marks = [] if self.forgetting == "reached" else [f"forgetting {self.forgetting}"]
        if self.utility != "held":
            marks.append("utility lost")
        return ", ".join(marks)


def _value(record: dict[str, Any], metric: str, role: str) -> float | None:
    m = record["metrics"].get(metric)
    return None if m is None else m.get(role)


def unchanged(record: dict[str, Any]) -> bool:
    """True when the record says the method changed no weight (``effect``, runner.py)."""
    effect = record.get("effect") or {}
    return effect.get("changed_parameters") == 0


def verdict(record: dict[str, Any]) -> Verdict:
    """The run's verdict, by its kind's rule (``views.kinds.VIEWS``)."""
    if unchanged(record):
        n = record["effect"].get("parameters", "?")
        return Verdict("unchanged", "unchanged",
                       f"verdict: the method left the model unchanged (0 of {n} weights "
                       f"changed): nothing was unlearned; this is the original model")
    from obliviate.views.kinds import view_for  # the registry imports this module

    return view_for(record_kind(record)).verdict(record)


def headline_verdict(record: dict[str, Any]) -> Verdict:
    """A kind without its own rule: the headline metric's distance to the oracle, reached
    when within the noise floor's own distance (or equal, without a floor); utility is not
    judged (the kind names no utility metric)."""
    from obliviate.metrics.registry import headline

    h = headline(record_kind(record))
    m = record["metrics"][h.name]
    if m.get("unlearned") is None or m.get("oracle") is None:
        raise ValueError(f"verdict: the record lacks {h.name} for the unlearned model or oracle")
    gap = abs(float(m["unlearned"]) - float(m["oracle"]))
    floor = abs(float(m["independent"]) - float(m["oracle"])) if m.get("independent") \
        is not None else 0.0
    forgetting = "reached" if gap <= floor else "not reached"
    return Verdict(forgetting, "held",
                   f"verdict: forgetting {forgetting} ({h.name} {gap:.4g} from the oracle; the "
                   f"noise floor is {floor:.4g} from it); utility not judged for this kind")


def classifier_verdict(record: dict[str, Any]) -> Verdict:
    has_floor = _value(record, "UA", "independent") is not None
    n_forget = int(record["scenario"].get("sizes", {}).get("forget", 0)) or 1

    def gap(metric: str, role: str) -> float:
        v, o = _value(record, metric, role), _value(record, metric, "oracle")
        if v is None or o is None:
            raise ValueError(f"verdict: the record lacks {metric} for {role} or the oracle")
        return float(v - o)

    signed = statistics.mean(gap(m, "unlearned") for m in ("UA", "MIA-Eff"))
    floor = statistics.mean(abs(gap(m, "independent")) for m in ("UA", "MIA-Eff")) \
        if has_floor else 0.0
    slack = max(floor, 100.0 / n_forget)
    forgetting = ("reached" if abs(signed) <= slack else
                  "over-shot" if signed > 0 else "not reached")
    drops = {}
    for m in ("RA", "TA"):
        floor_m = abs(gap(m, "independent")) if has_floor else 0.0
        drop = -gap(m, "unlearned")
        if drop > max(floor_m, 1.0):
            drops[m] = drop
    utility = "lost" if drops else "held"
    where = "the noise floor" if has_floor else "one forget sample"
    line = (f"verdict: forgetting {forgetting} (UA and MIA-Eff {signed:+.2f} points from the "
            f"oracle on average; within {slack:.2f} = {where} counts as reached); utility "
            + ("held" if not drops else "lost (" + ", ".join(
                f"{m} {d:.2f} points below the oracle" for m, d in drops.items()) + ")"))
    return Verdict(forgetting, utility, line)


def lm_verdict(record: dict[str, Any]) -> Verdict:
    fq = _value(record, "Forget quality", "unlearned")
    if fq is None:
        raise ValueError("verdict: the record lacks the unlearned model's forget quality")
    fq_floor = _value(record, "Forget quality", "independent")
    bar = FQ_BAR if fq_floor is None else min(FQ_BAR, fq_floor)
    ratios = record["metrics"]["Forget quality"].get("per_sample", {})
    if fq >= bar:
        forgetting = "reached"
    elif "unlearned" in ratios and "oracle" in ratios:
        # R = P(wrong) / P(true): above the oracle's = less knowledge than a never-trained model
        over = statistics.median(ratios["unlearned"]) > statistics.median(ratios["oracle"])
        forgetting = "over-shot" if over else "not reached"
    else:
        forgetting = "not reached"
    mu = {r: _value(record, "Model utility", r) for r in ("unlearned", "original",
                                                          "independent")}
    if mu["unlearned"] is None or mu["original"] is None:
        raise ValueError("verdict: the record lacks model utility")
    share = mu["unlearned"] / mu["original"] if mu["original"] else 0.0
    floor_share = None if mu["independent"] is None or not mu["original"] else \
        mu["independent"] / mu["original"]
    held = share >= UTILITY_SHARE or (floor_share is not None and share >= floor_share)
    n_q = record.get("lm", {}).get("forget_questions", "?")
    floor_txt = "" if fq_floor is None else f", the noise floor's {fq_floor:.3g}"
    line = (f"verdict: forgetting {forgetting} (forget quality {fq:.3g} over {n_q} forget "
            f"questions; reached at >= {bar:.3g}{floor_txt}); utility "
            f"{'held' if held else 'lost'} ({share:.2f}x the original's model utility; held "
            f"at >= {UTILITY_SHARE}x" + ("" if floor_share is None else
                                         f" or the noise floor's {floor_share:.2f}x") + ")")
    return Verdict(forgetting, "held" if held else "lost", line)
