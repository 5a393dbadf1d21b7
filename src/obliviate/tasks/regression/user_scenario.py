"""A regression scenario over the user's own table (``--data FILE --task regression``),
split at random with a fixed seed or as the user says (``--split-column``, ``--test``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from obliviate.errors import DataError, ObliviateError
from obliviate.tasks.classification.split import GivenSplit, given_split
from obliviate.tasks.regression.data import RegressionPool
from obliviate.tasks.regression.user import load_user_regression

if TYPE_CHECKING:
    from obliviate.tasks.regression.scenario import RegressionScenario


def user_regression_scenario(base: RegressionScenario, path: str, label: str | None,
                             split_column: str | None = None, test: str | None = None,
                             ) -> RegressionScenario:
    """``base``'s model and recipe (the bundled scenario ``--task regression`` picks) over
    the user's file; no outliers are planted in a user's data. The file is read now, so a
    bad one fails with its own error before anything is trained."""
    if split_column is not None and test is not None:
        raise ObliviateError("give the split once: --split-column or --test, not both")
    pool, marks = load_user_regression(path, label, split_column)
    given = given_split(marks, split_column, test, Path(path).name, pool.n_source_rows)
    if given is not None:
        given_positions(pool, given)
    return dataclasses.replace(
        base, name=f"user:{path}", description=f"user regression data from {path}",
        load=lambda: load_user_regression(path, label, split_column)[0], given_split=given,
        outlier_share=0.0)


def given_positions(pool: RegressionPool, given: GivenSplit,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pool positions of the train, test and holdout rows the user gave (rows dropped as
    duplicates are in none)."""
    test = np.flatnonzero(np.isin(pool.row, given.test))
    holdout = np.flatnonzero(np.isin(pool.row, given.holdout))
    train = np.setdiff1d(np.arange(len(pool.row)), np.concatenate([test, holdout]))
    if len(train) < 1 or len(test) < 1:
        raise DataError(f"{given.source} leaves {len(train)} training and {len(test)} test "
                        "rows (after dropping duplicates); both need at least one")
    return train, test, holdout
