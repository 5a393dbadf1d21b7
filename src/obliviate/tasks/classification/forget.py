"""Forget-set selectors: ``class:K``, ``random:FRACTION``, ``indices:FILE``, ``worst:F``."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from obliviate.errors import ForgetSetError, shown
from obliviate.tasks.classification.pool import Pool
from obliviate.tasks.classification.rows import few, read_rows

SELECTORS = {
    "class": "class:K — every training sample of class K (a label id or class name)",
    "random": "random:F — a uniformly random fraction 0 < F < 1 of the training samples",
    "indices": "indices:FILE — the source-file rows listed in FILE (.npy, or text of integers)",
    "worst": "worst:F — a hard-to-unlearn fraction F: the most typical training samples "
             "(Fan et al. 2024's worst case, by a cross-validated proxy)",
}


def canonical_forget(spec: str) -> str:
    """The one spelling of a forget set, which headings, records and sequence labels show.

    Whitespace around the kind and the argument goes (``class: 3`` is ``class:3``); a
    fraction is written as its float's repr, the value that selects the rows
    (``random:1e-1`` and a 5,000-digit ``random:0.111...`` are ``random:0.1`` and
    ``random:0.1111111111111111``). Text that does not parse comes back as given, for
    ``select_forget`` to reject.
    """
    kind, sep, arg = spec.partition(":")
    kind, arg = kind.strip(), arg.strip()
    if not sep or kind not in SELECTORS:
        return spec
    if kind in ("random", "worst"):
        try:
            return f"{kind}:{float(arg)!r}"
        except ValueError:
            return spec
    return f"{kind}:{arg}"


def select_forget(spec: str, pool: Pool, train_pos: np.ndarray, seed: int,
                  labels: np.ndarray | None = None) -> np.ndarray:
    """Positions (into ``pool``) of the forget set, a subset of ``train_pos``.

    ``labels`` are the labels the model trains on (with any label noise), default
    ``pool.y``: ``class:K`` forgets every sample *trained as* class K.
    """
    y = pool.y if labels is None else labels
    kind, sep, arg = spec.partition(":")
    if not sep or kind not in SELECTORS or not arg:
        raise ForgetSetError(f"bad forget set {shown(spec)}; expected one of: "
                             + "; ".join(SELECTORS.values()))
    if kind == "class":
        chosen = train_pos[y[train_pos] == _class_id(arg, pool)]
        if len(chosen) == 0:
            raise ForgetSetError(f"forget set {spec!r} is empty: the training data holds no "
                                 f"sample of class {shown(arg)}")
    elif kind == "random":
        k = fraction_count(arg, spec, len(train_pos))
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(train_pos, size=k, replace=False))
    elif kind == "worst":
        k = fraction_count(arg, spec, len(train_pos))
        chosen = np.sort(worst_case(pool.x[train_pos], y[train_pos], k, seed, train_pos))
    else:
        chosen = rows_from_file(Path(arg), pool, train_pos)
    if len(chosen) == len(train_pos):
        raise ForgetSetError(f"forget set {spec!r} is the whole training set; nothing would "
                             "be left to retain")
    return chosen


def worst_case(x: np.ndarray, y: np.ndarray, k: int, seed: int,
               positions: np.ndarray) -> np.ndarray:
    """The ``k`` of ``positions`` that a model never trained on them predicts best.

    Fan et al. ("Challenging Forgets", ECCV 2024) find the worst-case forget set by bi-level
    optimisation: the upper level picks samples whose loss stays low after unlearning. A
    sample's loss under a model that never saw it is what the oracle keeps, and the samples
    with the lowest such loss are the typical ones: forgetting them must not disturb the
    model's generalisation, so methods that push their predictions away (relabelling,
    gradient ascent) overshoot. Our proxy ranks samples by the true-label probability of a
    5-fold cross-validated logistic regression on standardised inputs (cheap, no network
    training); noisy labels score low and are never picked. Ties break by position.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    flat = x.reshape(len(x), -1).astype(np.float64)
    counts = np.bincount(y)
    folds = int(min(5, counts[counts > 0].min()))
    if folds < 2:
        raise ForgetSetError("worst-case selection needs at least 2 training samples of "
                             "every class (for its cross-validation)")
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    proba = cross_val_predict(clf, flat, y, cv=cv, method="predict_proba")
    classes = np.unique(y)
    p_true = proba[np.arange(len(y)), np.searchsorted(classes, y)]
    order = np.lexsort((np.arange(len(y)), -p_true))
    return positions[order[:k]]


def _class_id(arg: str, pool: Pool) -> int:
    if arg in pool.classes:
        return pool.classes.index(arg)
    if all(c.lstrip("-").isdigit() for c in pool.classes) and pool.classes != tuple(
            str(i) for i in range(len(pool.classes))):
        # Integer labels that are not 0..k-1 (e.g. 1, 2, 3): "class:0" must not mean the
        # first class, so only the label's own name is accepted.
        raise ForgetSetError(f"unknown class {shown(arg)}; classes: {', '.join(pool.classes)}")
    try:
        k = int(arg)
    except ValueError:
        raise ForgetSetError(f"unknown class {shown(arg)}; classes: "
                             f"{', '.join(pool.classes)}") from None
    if not 0 <= k < len(pool.classes):
        raise ForgetSetError(f"class {k} out of range; the data has classes "
                             f"0..{len(pool.classes) - 1}")
    return k


def fraction_count(arg: str, spec: str, n: int) -> int:
    """How many of ``n`` training samples the fraction ``arg`` selects (at least one)."""
    frac = _fraction(arg, spec)
    k = int(round(frac * n))
    if k == 0:
        raise ForgetSetError(f"forget set {spec!r} is empty: {frac} of {n} training samples "
                             "rounds to 0")
    return k


def _fraction(arg: str, spec: str) -> float:
    try:
        frac = float(arg)
    except ValueError:
        raise ForgetSetError(f"forget set {shown(spec)}: {shown(arg)} is not a "
                             "number") from None
    if not 0.0 < frac < 1.0:
        raise ForgetSetError(f"forget set {shown(spec)}: the fraction must be in (0, 1), "
                             f"got {frac}")
    return frac


class SourceRows(Protocol):
    """What reading an ``indices:FILE`` needs of a pool (a classifier's or a regression
    pool): each pool row's source-file row, and how many rows the source file had."""

    @property
    def row(self) -> np.ndarray: ...

    @property
    def n_source_rows(self) -> int: ...


def rows_from_file(path: Path, pool: SourceRows, train_pos: np.ndarray) -> np.ndarray:
    """Pool positions of the source rows listed in ``path``; every bad row is counted."""
    rows = read_rows(path, ("forget index", "forget indices"), pool.n_source_rows,
                     ForgetSetError)
    pos_of_row = {int(r): i for i, r in enumerate(pool.row)}
    dropped = [int(r) for r in rows if int(r) not in pos_of_row]
    if dropped:
        noun = "index is a duplicate" if len(dropped) == 1 else "indices are duplicates"
        raise ForgetSetError(f"{len(dropped)} forget {noun} of other rows, dropped from the "
                             f"data (a duplicate cannot be forgotten separately): "
                             f"{few(dropped)}")
    pos = np.array([pos_of_row[int(r)] for r in rows], dtype=np.int64)
    outside = np.setdiff1d(pos, train_pos)
    if len(outside):
        noun = "index is not a training row" if len(outside) == 1 else \
            "indices are not training rows"
        raise ForgetSetError(f"{len(outside)} forget {noun} (they fell in test/holdout): "
                             f"{few(np.sort(pool.row[outside]).tolist())}; `obliviate split` "
                             "lists the training rows, and --split-column or --test chooses "
                             "the split")
    return np.sort(pos)
