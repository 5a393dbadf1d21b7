"""A split the user chose: which source rows are test and holdout rows (the rest train).

Without one, a scenario splits its pool at random with a fixed seed (``base.SPLIT_SEED``).
With one, from a split column of a CSV (``--split-column``) or a file of test rows
(``--test``), every row the user did not mark test or holdout is a training row, so an
``indices:FILE`` forget set can name any of them. The classifier metrics never read the
holdout split (membership inference tells forget from test samples), so ``--test`` leaves it
empty rather than take training rows the user did not give up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from obliviate.errors import DataError
from obliviate.tasks.classification.pool import Pool
from obliviate.tasks.classification.rows import few, read_rows
from obliviate.tasks.classification.user import SPLIT_VALUES


@dataclass(frozen=True)
class GivenSplit:
    """Source-file rows of the test and holdout splits; ``source`` says where they came from
    (the run record keeps it)."""

    test: tuple[int, ...]
    holdout: tuple[int, ...]
    source: str


def from_column(values: Sequence[str], column: str, file: str) -> GivenSplit:
    """The split a CSV's ``column`` gives, one value per data row (``values[i]`` is source
    row ``i``): ``train``, ``test`` or ``holdout``, any case, surrounding spaces ignored."""
    marks = np.array([v.strip().lower() for v in values])
    unknown = np.flatnonzero(~np.isin(marks, SPLIT_VALUES))
    if len(unknown):
        shown = few(f"row {i} {values[i]!r}" for i in unknown.tolist())
        raise DataError(f"{file}: {len(unknown)} rows of split column {column!r} are not "
                        f"train, test or holdout: {shown}")
    given = GivenSplit(tuple(np.flatnonzero(marks == "test").tolist()),
                       tuple(np.flatnonzero(marks == "holdout").tolist()),
                       f"column {column!r}")
    _check_counts(len(values) - len(given.test) - len(given.holdout), len(given.test),
                  f"{file}: split column {column!r}")
    return given


def given_split(marks: Sequence[str] | None, split_column: str | None, test: str | None,
                file: str, n_source_rows: int) -> GivenSplit | None:
    """The split a user gave: the ``split_column``'s ``marks`` (read from ``file``), or the
    ``test`` rows file; None for the seeded split."""
    if marks is not None and split_column is not None:
        return from_column(marks, split_column, file)
    if test is not None:
        return from_test_file(test, n_source_rows)
    return None


def from_test_file(path: str, n_source_rows: int) -> GivenSplit:
    """The rows listed in ``path`` (as an ``indices:FILE`` file) are the test split."""
    rows = read_rows(Path(path), ("test row", "test rows"), n_source_rows, DataError)
    given = GivenSplit(tuple(rows.tolist()), (), f"--test {path}")
    _check_counts(n_source_rows - len(rows), len(rows), f"--test {path}")
    return given


def positions(pool: Pool, given: GivenSplit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pool positions of the train, test and holdout splits (rows dropped as duplicates are
    in none)."""
    test = np.flatnonzero(np.isin(pool.row, given.test))
    holdout = np.flatnonzero(np.isin(pool.row, given.holdout))
    train = np.setdiff1d(np.arange(len(pool.row)), np.concatenate([test, holdout]))
    _check_counts(len(train), len(test), f"{given.source} (after dropping duplicate rows)")
    return train, test, holdout


def _check_counts(n_train: int, n_test: int, where: str) -> None:
    if n_train < 1:
        raise DataError(f"{where} leaves no training rows")
    if n_test < 1:
        raise DataError(f"{where} gives no test rows (the test accuracy and the membership "
                        "inference need some)")
