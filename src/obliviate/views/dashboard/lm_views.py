"""The language-model views: truth ratios (the KS test behind forget quality), each forget
question's answers, forgetting per person, and layer CKA across transformer blocks.

Columns: ``original`` and ``oracle`` are run A's; ``a`` and ``b`` are models A and B. Every
view needs both runs to have forgot the same people (they index the same forget questions);
runs recorded before the per-question arrays existed get a view that says what is missing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from obliviate.storage import sidecar as sc
from obliviate.views.dashboard.pairs import different_samples
from obliviate.views.dashboard.shared import Model, layer_cka, number

LM_VIEWS = ("truth", "answers", "people")  # and "layers", shared with classifiers

Arrays = dict[str, np.ndarray]


def lm_views(ma: Model, sa_: Arrays, mb: Model, sb: Arrays) -> dict[str, Any]:
    """Every language-model view (and ``layers``) for the pair, or why it cannot be drawn."""
    why = different_samples(ma.run.record, mb.run.record)
    if not why and len(sa_[sc.truth_ratio_key(ma.role)]) != len(sb[sc.truth_ratio_key(mb.role)]):
        why = (f"A has {len(sa_[sc.truth_ratio_key(ma.role)])} forget questions and B "
               f"{len(sb[sc.truth_ratio_key(mb.role)])}: per-question views need the same ones")
    if why:
        return {view: {"unavailable": why} for view in (*LM_VIEWS, "layers")}
    out: dict[str, Any] = {"truth": truth_ratios(ma, sa_, mb, sb)}
    missing = _missing(ma, sa_, mb, sb, [sc.QUESTION, sc.PERSON], [sc.answer_key, sc.exact_key],
                       "each forget question's answers and person")
    out["answers"] = {"unavailable": missing} if missing else answers(ma, sa_, mb, sb)
    out["people"] = {"unavailable": missing} if missing else by_person(ma, sa_, mb, sb)
    missing = _missing(ma, sa_, mb, sb, [sc.LAYERS, sc.PROBE_IDS],
                       [lambda r: sc.layer_key(r, 0)], "transformer-block hidden states")
    if missing:
        out["layers"] = {"unavailable": missing}
    else:
        out["layers"] = layer_cka(ma, sa_, mb, sb) | {
            "probe_set": "forget questions, each fed as question + true answer; hidden states "
                         "mean-pooled over its tokens"}
    return out


def truth_ratios(ma: Model, sa_: Arrays, mb: Model, sb: Arrays) -> dict[str, Any]:
    """Per-question truth ratios R of A, B and A's oracle, and the two-sample KS test of A and
    of B against the oracle (forget quality is its p-value; METRICS.md)."""
    r = {"a": sa_[sc.truth_ratio_key(ma.role)], "b": sb[sc.truth_ratio_key(mb.role)],
         "oracle": sa_[sc.truth_ratio_key("oracle")]}
    return {"n": len(r["a"]), **{k: [number(float(x)) for x in v] for k, v in r.items()},
            "ks": {k: ks_test(r[k], r["oracle"]) for k in ("a", "b")}}


def ks_test(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """The KS statistic D = max |F_x - F_y| and where it is reached (the drawn gap: the
    empirical CDFs' values just after ``at``), and the p-value as forget quality computes it."""
    from obliviate.metrics.tofu import forget_quality  # scipy: loaded only when a view needs it

    x, y = np.sort(np.asarray(x, np.float64)), np.sort(np.asarray(y, np.float64))
    if not (len(x) and len(y)) or np.isnan(x).any() or np.isnan(y).any():
        return {"unavailable": "a truth ratio is missing or NaN"}
    grid = np.union1d(x, y)
    fx = np.searchsorted(x, grid, side="right") / len(x)
    fy = np.searchsorted(y, grid, side="right") / len(y)
    i = int(np.argmax(np.abs(fx - fy)))
    return {"statistic": float(abs(fx[i] - fy[i])), "at": number(float(grid[i])),
            "cdf": [float(fx[i]), float(fy[i])], "pvalue": forget_quality(x, y)[0]}


def answers(ma: Model, sa_: Arrays, mb: Model, sb: Arrays) -> dict[str, Any]:
    """Each forget question, its true answer, and each model's greedy answer and exact match."""
    cols = _columns(ma, sa_, mb, sb)
    said = {k: [str(v) for v in s[sc.answer_key(role)]] for k, (s, role) in cols.items()}
    exact = {k: [bool(v) for v in s[sc.exact_key(role)]] for k, (s, role) in cols.items()}
    return {"question": [str(q) for q in sa_[sc.QUESTION]],
            "reference": [str(a) for a in sa_[sc.REFERENCE]],
            "person": [str(p) for p in sa_[sc.PERSON]], "name": _names(sa_),
            "answers": said, "exact": exact, "exact_count": {k: sum(v) for k, v in exact.items()}}


def by_person(ma: Model, sa_: Arrays, mb: Model, sb: Arrays) -> dict[str, Any]:
    """Per forget person (in the forget set's order): exact match (%) and mean answer
    probability over their questions, for each column."""
    cols = _columns(ma, sa_, mb, sb)
    person, names = sa_[sc.PERSON], _names(sa_)
    rows = []
    for pid in dict.fromkeys(str(p) for p in person):  # first-appearance order, no repeats
        at = np.flatnonzero(person == pid)
        rows.append({"person": pid, "name": names[int(at[0])], "questions": int(len(at)),
                     "exact": {k: 100 * float(np.mean(s[sc.exact_key(role)][at]))
                               for k, (s, role) in cols.items()},
                     "prob": {k: number(float(np.mean(s[sc.prob_key(role)][at])))
                              for k, (s, role) in cols.items()}})
    return {"rows": rows}


def _columns(ma: Model, sa_: Arrays, mb: Model, sb: Arrays) -> dict[str, tuple[Arrays, str]]:
    return {"original": (sa_, "original"), "a": (sa_, ma.role), "b": (sb, mb.role),
            "oracle": (sa_, "oracle")}


def _names(s: Arrays) -> list[str]:
    return [str(n) for n in s.get(sc.PERSON_NAME, s[sc.PERSON])]


def _missing(ma: Model, sa_: Arrays, mb: Model, sb: Arrays, keys: list[str],
             per_role: list[Any], what: str) -> str | None:
    """Which run lacks the arrays a view draws (it was recorded before runs saved them)."""
    for model, s, roles in ((ma, sa_, ("original", ma.role, "oracle")), (mb, sb, (mb.role,))):
        want = [*keys, *(f(r) for f in per_role for r in roles)]
        if any(k not in s for k in want):
            return (f"run {model.run.run_id} was recorded before runs saved {what}; run it "
                    "again to see this view")
    return None
