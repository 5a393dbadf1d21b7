"""Forget-set selectors for regression: ``random:F``, ``range:LO:HI``, ``indices:FILE`` and
``outliers``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from obliviate.errors import ForgetSetError, shown
from obliviate.tasks.classification.forget import fraction_count, rows_from_file
from obliviate.tasks.regression.data import RegressionPool

SELECTORS = {
    "random": "random:F — a uniformly random fraction 0 < F < 1 of the training samples",
    "range": "range:LO:HI — regression: every training sample whose target lies in [LO, HI] "
             "(the target's units; -inf / inf for an open end), as Tarun et al. 2023 forget "
             "an age range",
    "indices": "indices:FILE — the source-file rows listed in FILE (.npy, or text of integers)",
    "outliers": "outliers — regression: the training samples whose targets the scenario moved "
                "far off the function (scenarios with planted outliers only)",
}


def canonical_forget(spec: str) -> str:
    """The one spelling of a forget set (headings, records and sequence labels show it):
    whitespace goes, numbers are written as their float's repr (``range: 1e2 : 300`` is
    ``range:100.0:300.0``). Text that does not parse comes back as given, for
    ``select_forget`` to reject."""
    kind, sep, arg = spec.partition(":")
    kind, arg = kind.strip(), arg.strip()
    if kind == "outliers" and not arg:
        return "outliers"
    if not sep or kind not in SELECTORS:
        return spec
    try:
        if kind == "random":
            return f"random:{float(arg)!r}"
        if kind == "range":
            lo, hi = (float(a) for a in arg.split(":"))
            return f"range:{lo!r}:{hi!r}"
    except ValueError:
        return spec
    return f"{kind}:{arg}"


def select_forget(spec: str, pool: RegressionPool, train_pos: np.ndarray, y: np.ndarray,
                  seed: int, planted: np.ndarray) -> np.ndarray:
    """Sorted pool positions of the forget set, a subset of ``train_pos``.

    ``y`` are the targets as trained (with any planted outliers), ``planted`` the pool
    positions of the planted outliers.
    """
    kind, sep, arg = spec.partition(":")
    if kind == "outliers" and not sep:
        chosen = _outliers(planted)
    elif not sep or kind not in SELECTORS or not arg or kind == "outliers":
        raise ForgetSetError(f"bad forget set {shown(spec)}; expected one of: "
                             + "; ".join(SELECTORS.values()))
    elif kind == "random":
        chosen = np.sort(np.random.default_rng(seed).choice(
            train_pos, size=fraction_count(arg, spec, len(train_pos)), replace=False))
    elif kind == "range":
        chosen = _in_range(arg, spec, train_pos, y, pool.target)
    else:
        chosen = rows_from_file(Path(arg), pool, train_pos)
    if len(chosen) == len(train_pos):
        raise ForgetSetError(f"forget set {spec!r} is the whole training set; nothing would "
                             "be left to retain")
    return chosen


def _outliers(planted: np.ndarray) -> np.ndarray:
    if len(planted) == 0:
        raise ForgetSetError("forget set 'outliers' is empty: this scenario planted no "
                             "outliers (the outliers scenario does); use random:F, "
                             "range:LO:HI or indices:FILE")
    return np.sort(planted)


def _in_range(arg: str, spec: str, train_pos: np.ndarray, y: np.ndarray,
              target: str) -> np.ndarray:
    parts = arg.split(":")
    try:
        lo, hi = (float(p) for p in parts) if len(parts) == 2 else (math.nan, math.nan)
    except ValueError:
        lo = hi = math.nan
    if math.isnan(lo) or math.isnan(hi):
        raise ForgetSetError(f"forget set {shown(spec)}: expected range:LO:HI with two "
                             "numbers (the target's units), e.g. range:0:100 or range:250:inf")
    if lo > hi:
        raise ForgetSetError(f"forget set {shown(spec)}: LO ({lo:g}) is above HI ({hi:g})")
    t = y[train_pos]
    chosen = train_pos[(t >= lo) & (t <= hi)]
    if len(chosen) == 0:
        raise ForgetSetError(f"forget set {spec!r} is empty: no training target ({target}) "
                             f"lies in [{lo:g}, {hi:g}]; the training targets range from "
                             f"{t.min():g} to {t.max():g}")
    return np.sort(chosen)
