"""A user's own regression table: a CSV with a numeric target column (``--label``), or an
``.npz`` with ``X`` and a real-valued ``y``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from obliviate.errors import DataError

# The classifiers' readers check the file, the header, the feature columns and the split
# column; only the target differs (a number here, any text there).
from obliviate.tasks.classification.user import _read_csv, _read_npz
from obliviate.tasks.regression.data import RegressionPool, make_regression_pool

MIN_ROWS = 20  # enough to split into forget / retain / test / holdout


def load_user_regression(path: str | Path, label: str | None = None,
                         split_column: str | None = None,
                         ) -> tuple[RegressionPool, list[str] | None]:
    """The pool of ``path`` and the raw values of its ``split_column`` (None without one)."""
    p = Path(path)
    try:
        is_file = p.is_file()
    except OSError as e:  # a name too long, a path through a file, ...
        raise DataError(f"data file {str(p)!r}: {e.strerror or e}") from None
    if not is_file:
        raise DataError(f"data file {str(p)!r} does not exist or is not a file")
    suffix, marks = p.suffix.lower(), None
    if suffix == ".npz":
        if label is not None or split_column is not None:
            raise DataError("--label and --split-column are for CSV files; an .npz must hold "
                            "arrays 'X' and 'y' (give test rows with --test FILE)")
        x, raw = _read_npz(p)
        target = "y"
    elif suffix == ".csv":
        if not label:
            raise DataError(f"{p.name}: a CSV needs --label naming its target column")
        x, raw, marks, _ = _read_csv(p, label, split_column)
        target = label
    else:
        raise DataError(f"{p.name}: unsupported data format {suffix!r}; expected .npz or .csv")
    if x.ndim != 2:
        raise DataError(f"{p.name}: regression needs X of shape (rows, features), got "
                        f"{x.shape}")
    if len(x) != len(raw):
        raise DataError(f"{p.name}: X has {len(x)} rows but y has {len(raw)}")
    if len(x) < MIN_ROWS:
        raise DataError(f"{p.name}: {len(x)} samples is too few to split into "
                        f"forget/retain/test/holdout (need >= {MIN_ROWS})")
    if not np.all(np.isfinite(x.astype(np.float64))):
        raise DataError(f"{p.name}: X contains NaN or infinite values")
    y = _numeric_target(raw, target, p.name, csv=suffix == ".csv")
    if float(np.ptp(y)) == 0.0:
        raise DataError(f"{p.name}: the target {target!r} is constant ({y[0]:g}); there is "
                        "nothing to regress")
    pool = make_regression_pool(p.stem, x, y, target)
    if len(pool.y) < MIN_ROWS:
        raise DataError(f"{p.name}: {len(pool.y)} distinct samples after dropping duplicates "
                        f"is too few to split (need >= {MIN_ROWS})")
    return pool, marks


def _numeric_target(raw: np.ndarray, target: str, name: str, *, csv: bool) -> np.ndarray:
    """The target as float64; the first value that is not a finite number is named."""
    out = np.empty(len(raw), dtype=np.float64)
    for i, v in enumerate(raw.tolist()):
        where = f"line {i + 2}" if csv else f"y[{i}]"  # a CSV's line 1 is its header
        try:
            out[i] = float(v)
        except (TypeError, ValueError):
            raise DataError(f"{name}: {where}, target {target!r}: {str(v)!r} is not a "
                            "number; a regression target must be numeric (class labels: "
                            "--task classification)") from None
        if not math.isfinite(out[i]):
            raise DataError(f"{name}: {where}, target {target!r}: {str(v)!r} is not a finite "
                            "number")
    return out
