"""A user's own interactions: a CSV with a header and columns ``user``, ``item`` and, optionally,
``timestamp``.

* ``user`` and ``item`` are ids, any text (kept as written, surrounding spaces removed);
  forget sets name them (``--forget user:alice``, ``--forget item:B0042``).
* ``timestamp`` is a number (e.g. Unix seconds). With it, each user's latest interactions are
  the test rows; without it, a seeded random share of each user's interactions.
* Other columns (a rating, a session id) are ignored: the feedback is implicit, a row means
  "the user chose the item". A (user, item) pair that occurs again is the same interaction:
  its first row is kept (the earliest, with timestamps).
* There are no item side features in this format: the model's feature projection is absent.

Row numbers in messages count data rows from 0 (the header is not a row), as ``obliviate
split`` numbers them.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from obliviate.errors import DataError
from obliviate.tasks.recommendation.interactions import Interactions

REQUIRED = ("user", "item")
MIN_INTERACTIONS = 20


def read_interactions_csv(path: str | Path) -> Interactions:
    """The interactions of ``path``; a ``DataError`` naming the file and the problem else."""
    p = Path(path)
    try:
        is_file = p.is_file()
    except OSError as e:
        raise DataError(f"interactions file {str(p)!r}: {e.strerror or e}") from None
    if not is_file:
        raise DataError(f"interactions file {str(p)!r} does not exist or is not a file")
    if p.suffix.lower() != ".csv":
        raise DataError(f"{p.name}: interactions must be a .csv with columns user,item"
                        f"[,timestamp], got a {p.suffix or 'file without suffix'!r}")
    try:
        with open(p, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{p.name}: cannot read the interactions ({e})") from None
    rows = [r for r in rows if any(c.strip() for c in r)]  # blank lines are not rows
    if not rows:
        raise DataError(f"{p.name}: the file is empty; expected a header user,item"
                        "[,timestamp] and a row per interaction")
    header = [h.strip().lower() for h in rows[0]]
    lacking = [c for c in REQUIRED if c not in header]
    if lacking:
        raise DataError(f"{p.name}: the header lacks the column {lacking[0]!r} (header: "
                        f"{','.join(rows[0])}; expected user,item[,timestamp])")
    col = {c: header.index(c) for c in (*REQUIRED, "timestamp") if c in header}
    seen: dict[tuple[str, str], int] = {}
    users: dict[str, int] = {}
    items: dict[str, int] = {}
    u_idx: list[int] = []
    i_idx: list[int] = []
    times: list[float] = []
    source: list[int] = []
    for n, r in enumerate(rows[1:]):
        if len(r) < len(header):
            raise DataError(f"{p.name}: data row {n} has {len(r)} fields, the header "
                            f"{len(header)}")
        user, item = r[col["user"]].strip(), r[col["item"]].strip()
        for what, value in (("user", user), ("item", item)):
            if not value:
                raise DataError(f"{p.name}: data row {n} has an empty {what} id")
        t = math.nan
        if "timestamp" in col:
            try:
                t = float(r[col["timestamp"]])
            except ValueError:
                raise DataError(f"{p.name}: data row {n}: timestamp "
                                f"{r[col['timestamp']].strip()!r} is not a number") from None
            if not math.isfinite(t):
                raise DataError(f"{p.name}: data row {n}: timestamp {t} is not finite")
        key = (user, item)
        if key in seen:
            first = seen[key]
            if "timestamp" in col and t < times[first]:
                times[first], source[first] = t, n  # the pair's earliest row stands for it
            continue
        seen[key] = len(u_idx)
        u_idx.append(users.setdefault(user, len(users)))
        i_idx.append(items.setdefault(item, len(items)))
        times.append(t)
        source.append(n)
    if len(u_idx) < MIN_INTERACTIONS or len(users) < 2 or len(items) < 2:
        raise DataError(f"{p.name}: {len(u_idx)} distinct interactions of {len(users)} users "
                        f"and {len(items)} items is too few (need >= {MIN_INTERACTIONS} and "
                        "at least 2 users and 2 items)")
    return Interactions(
        name=p.name, user=np.array(u_idx, dtype=np.int64), item=np.array(i_idx, dtype=np.int64),
        users=tuple(users), items=tuple(items),
        features=np.zeros((len(items), 0), dtype=np.float32),
        timestamp=np.array(times, dtype=np.float64) if "timestamp" in col else None,
        row=np.array(source, dtype=np.int64), n_source_rows=len(rows) - 1)
