"""Files of source-file row numbers (``indices:FILE`` forget sets, ``--test FILE`` splits)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from obliviate.errors import ObliviateError

SHOWN = 8  # how many offending values an error message lists before "..."


def few(values: Iterable[object], shown: int = SHOWN) -> str:
    """``"3, 9, 12, ..."``: the first ``shown`` values, so a message stays one short line."""
    items = [str(v) for v in values]
    return ", ".join(items[:shown]) + (", ..." if len(items) > shown else "")


def counted(n: int, one: str, many: str) -> str:
    """``"1 forget index"`` / ``"7 forget indices"``."""
    return f"{n} {one if n == 1 else many}"


def read_rows(path: Path, noun: tuple[str, str], n_source_rows: int,
              error: type[ObliviateError] = ObliviateError) -> np.ndarray:
    """The sorted, distinct row numbers in ``path`` (.npy, or text of integers separated by
    spaces, commas or newlines), each checked to be a row of a file of ``n_source_rows``.

    ``noun`` names one and many of the file's values in messages (``("forget index",
    "forget indices")``); every bad value is counted and the first few are named.
    """
    shown, what = str(path), noun[1]
    try:
        if not path.is_file():
            raise error(f"{what} file {shown!r} does not exist")
        if path.suffix == ".npy":
            rows = np.load(path, allow_pickle=False).ravel()
        else:
            rows = np.array(path.read_text().replace(",", " ").split(), dtype=np.float64)
    except (OSError, ValueError) as e:  # OSError: unreadable, or a name too long, ...
        reason = e.strerror if isinstance(e, OSError) and e.strerror else e
        raise error(f"cannot read {what} from {shown!r}: {reason}") from None
    if len(rows) == 0:
        raise error(f"{what} file {shown!r} is empty")
    if rows.dtype == np.bool_ or not np.issubdtype(rows.dtype, np.number) or np.iscomplexobj(rows):
        raise error(f"{shown!r}: {what} must be integer row numbers, got dtype {rows.dtype} "
                    "(a boolean mask is not accepted)")
    if not np.all(np.isfinite(rows)):
        raise error(f"{shown!r}: {what} must be finite integers")
    fractional = rows[np.mod(rows, 1) != 0]
    if len(fractional):
        raise error(f"{shown!r}: {what} must be integers; "
                    f"{counted(len(fractional), 'value is', 'values are')} not: "
                    f"{few(fractional.tolist())}")
    rows = rows.astype(np.int64)
    bad = np.unique(rows[(rows < 0) | (rows >= n_source_rows)])
    if len(bad):
        raise error(f"{counted(len(bad), *noun)} out of range (the data has rows "
                    f"0..{n_source_rows - 1}): {few(bad.tolist())}")
    return np.unique(rows)
