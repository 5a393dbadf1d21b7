"""Forget-set selectors for interactions: ``user:U``, ``item:I``, ``random:F``.

A selector names units a deletion request can name: users (every training interaction of a
user: the right to be forgotten), items (every training interaction with an item: a revoked
licence or a legal removal) or single interactions (a random share of the training rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from obliviate.errors import ForgetSetError, shown
from obliviate.tasks.recommendation.interactions import Interactions

SELECTORS = {
    "user": "user:U — every training interaction of user U (its id in the data; several: "
            "user:U1,U2)",
    "item": "item:I — every training interaction with item I (a revoked licence, a legal "
            "removal; several: item:I1,I2)",
    "random": "random:F — a uniformly random share 0 < F < 1 of the training interactions",
}
UNIT_NAMES = {"user": "users", "item": "items", "random": "interactions"}


@dataclass(frozen=True)
class Forget:
    """What a selector chose: its kind, the units it names (user or item ids, or interaction
    ids for ``random``) and the training interactions they cover (sorted ids)."""

    kind: str
    units: tuple[str | int, ...]
    ids: np.ndarray


def _bad(spec: str) -> ForgetSetError:
    return ForgetSetError(f"bad forget set {shown(spec)}; expected one of: "
                          + "; ".join(SELECTORS.values()))


def canonical_forget(spec: str) -> str:
    """The one spelling of a forget set: whitespace around the kind and the ids goes, a
    repeated id goes, a share is its float's repr. Text that does not parse comes back as
    given, for ``select_forget`` to reject."""
    kind, sep, arg = spec.partition(":")
    kind, arg = kind.strip(), arg.strip()
    if not sep or kind not in SELECTORS:
        return spec
    if kind == "random":
        try:
            return f"random:{float(arg)!r}"
        except ValueError:
            return spec
    ids = list(dict.fromkeys(a.strip() for a in arg.split(",")))
    return f"{kind}:{','.join(ids)}"


def _examples(names: tuple[str, ...]) -> str:
    return ", ".join(repr(n) for n in names[:3]) + (", ..." if len(names) > 3 else "")


def select_forget(spec: str, data: Interactions, train_ids: np.ndarray,
                  seed: int) -> Forget:
    """The forget set ``spec`` names among the training interactions ``train_ids``."""
    kind, sep, arg = spec.partition(":")
    if not sep or kind not in SELECTORS or not arg:
        raise _bad(spec)
    if kind == "random":
        try:
            share = float(arg)
        except ValueError:
            raise ForgetSetError(f"forget set {shown(spec)}: {shown(arg)} is not a number; "
                                 f"expected {SELECTORS['random']}") from None
        if not 0 < share < 1:
            raise ForgetSetError(f"forget set {shown(spec)}: the share must be in (0, 1)")
        size = int(round(share * len(train_ids)))
        if size == 0 or size == len(train_ids):
            raise ForgetSetError(f"forget set {shown(spec)} selects {size} of the "
                                 f"{len(train_ids)} training interactions; pick a share "
                                 "that leaves some to forget and some to keep")
        ids = np.sort(np.random.default_rng(seed).choice(train_ids, size=size, replace=False))
        return Forget("random", tuple(int(i) for i in ids), ids)
    names = [a for a in arg.split(",")]
    if any(not n for n in names):
        raise ForgetSetError(f"forget set {shown(spec)}: an empty {kind} id; separate ids "
                             "with single commas")
    known = data.users if kind == "user" else data.items
    index = {n: i for i, n in enumerate(known)}
    missing = [n for n in names if n not in index]
    if missing:
        raise ForgetSetError(f"forget set {shown(spec)}: no {kind} {shown(missing[0])} in the "
                             f"interactions ({len(known)} {UNIT_NAMES[kind]}: "
                             f"{_examples(known)})")
    column = data.user if kind == "user" else data.item
    ids = np.sort(train_ids[np.isin(column[train_ids], [index[n] for n in names])])
    for n in names:
        if not (column[ids] == index[n]).any():
            raise ForgetSetError(f"forget set {shown(spec)}: {kind} {shown(n)} has no "
                                 "training interactions (all of its interactions are "
                                 "held-out test rows): there is nothing to forget")
    if len(ids) == len(train_ids):
        raise ForgetSetError(f"forget set {shown(spec)} covers every training interaction; "
                             "nothing would be left to train on")
    return Forget(kind, tuple(names), ids.astype(np.int64))


def covered(kind: str, units: list[str | int] | tuple[str | int, ...], data: Interactions,
            train_ids: np.ndarray) -> np.ndarray:
    """The training interactions ``units`` (of a ``kind`` forget set) cover, sorted: what
    a sequence of deletion requests forgets so far (``RecData.with_forget``)."""
    if kind == "random":
        return np.sort(np.intersect1d(train_ids, np.asarray(units, dtype=np.int64)))
    known = data.users if kind == "user" else data.items
    index = {n: i for i, n in enumerate(known)}
    column = data.user if kind == "user" else data.item
    return np.sort(train_ids[np.isin(column[train_ids], [index[str(u)] for u in units])])
