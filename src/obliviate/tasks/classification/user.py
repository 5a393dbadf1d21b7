"""A user's own labelled data: an ``.npz`` with ``X`` and ``y``, or a CSV with a label column."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from obliviate.errors import DataError
from obliviate.tasks.classification.pool import Pool, make_pool

SPLIT_VALUES = ("train", "test", "holdout")  # what a --split-column may say


def load_user_pool(path: str | Path, label: str | None = None,
                   split_column: str | None = None) -> Pool:
    """Read ``path`` into a pool. Feature vectors are standardised; images scaled to [0, 1].

    Shapes: (n, d) features; (n, h, w) grey images; (n, c, h, w) images. A CSV's
    ``split_column`` is not a feature (``load_user_data`` returns its values).
    """
    return load_user_data(path, label, split_column)[0]


def load_user_data(path: str | Path, label: str | None = None,
                   split_column: str | None = None) -> tuple[Pool, list[str] | None]:
    """The pool of ``path`` and the raw values of its ``split_column`` (one per source row),
    None without one."""
    table = load_user_table(path, label, split_column)
    return table.pool, table.marks


@dataclass(frozen=True)
class UserTable:
    pool: Pool
    marks: list[str] | None  # the split column's raw values, one per source row
    subjects: list[str] | None  # the subject column's values, one per source row


def load_user_table(path: str | Path, label: str | None = None,
                    split_column: str | None = None,
                    subject_column: str | None = None) -> UserTable:
    """``load_user_data``, and a CSV's ``subject_column`` (whose data a row is: the deletion
    service's unit of deletion): not a feature; every row must name its subject."""
    p = Path(path)
    try:
        is_file = p.is_file()
    except OSError as e:  # a name too long, a path through a file, ...
        raise DataError(f"data file {str(p)!r}: {e.strerror or e}") from None
    if not is_file:
        raise DataError(f"data file {str(p)!r} does not exist or is not a file")
    suffix = p.suffix.lower()
    marks = None
    if suffix == ".npz":
        if label is not None:
            raise DataError("--label is for CSV files; an .npz must hold arrays 'X' and 'y'")
        if split_column is not None:
            raise DataError("--split-column is for CSV files; with an .npz, give the test "
                            "rows with --test FILE")
        if subject_column is not None:
            raise DataError("--subject-column is for CSV files; an .npz holds only 'X' and "
                            "'y'")
        x, raw_y = _read_npz(p)
        subjects = None
    elif suffix == ".csv":
        if not label:
            raise DataError(f"{p.name}: a CSV needs --label naming its label column")
        x, raw_y, marks, subjects = _read_csv(p, label, split_column, subject_column)
    else:
        raise DataError(f"{p.name}: unsupported data format {suffix!r}; expected .npz or .csv")
    if x.ndim < 2:
        raise DataError(f"{p.name}: X must be 2-D or more (a row per sample), got {x.shape}")
    if len(x) != len(raw_y):
        raise DataError(f"{p.name}: X has {len(x)} rows but y has {len(raw_y)}")
    if len(x) < 20:
        raise DataError(f"{p.name}: {len(x)} samples is too few to split into "
                        "forget/retain/test/holdout (need >= 20)")
    x = x.astype(np.float32) if not np.iscomplexobj(x) else x
    if np.iscomplexobj(x):
        raise DataError(f"{p.name}: X must be real numbers, got complex values")
    if not np.all(np.isfinite(x)):
        raise DataError(f"{p.name}: X contains NaN or infinite values (or values too large "
                        "for float32)")
    classes, y = np.unique(raw_y, return_inverse=True)
    if len(classes) < 2:
        raise DataError(f"{p.name}: the labels hold a single class "
                        f"({str(classes[0])!r}); need >= 2")
    x = _normalise(x, p.name)
    pool = make_pool(p.stem, x, y.astype(np.int64), tuple(str(c) for c in classes))
    if len(pool.y) < 20:
        raise DataError(f"{p.name}: {len(pool.y)} distinct samples after dropping duplicates "
                        "is too few to split into forget/retain/test/holdout (need >= 20)")
    return UserTable(pool, marks, subjects)


def _read_npz(p: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(p, allow_pickle=False) as f:
            missing = [k for k in ("X", "y") if k not in f.files]
            if missing:
                raise DataError(f"{p.name}: missing array(s) {missing}; found {f.files}")
            x, y = np.asarray(f["X"]), np.asarray(f["y"])
    except DataError:
        raise
    except Exception as e:  # np.load raises many types for a bad file
        raise DataError(f"{p.name}: not a readable .npz file ({e})") from e
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{p.name}: X must be numeric, got dtype {x.dtype}")
    if y.ndim != 1:
        raise DataError(f"{p.name}: y must be 1-D, got shape {y.shape}")
    return x, y


def _read_csv(p: Path, label: str, split_column: str | None, subject_column: str | None = None,
              ) -> tuple[np.ndarray, np.ndarray, list[str] | None, list[str] | None]:
    try:
        with p.open(newline="") as f:
            rows = [r for r in csv.reader(f) if any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{p.name}: cannot read CSV ({e})") from e
    if len(rows) < 2:
        raise DataError(f"{p.name}: needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    if label not in header:
        raise DataError(f"{p.name}: no label column {label!r}; columns: {', '.join(header)}")
    li = header.index(label)
    si = None
    if split_column is not None:
        if split_column == label:
            raise DataError(f"{p.name}: --split-column and --label both name {label!r}")
        if split_column not in header:
            raise DataError(f"{p.name}: no split column {split_column!r}; columns: "
                            f"{', '.join(header)}")
        si = header.index(split_column)
    ui = None
    if subject_column is not None:
        if subject_column in (label, split_column):
            raise DataError(f"{p.name}: --subject-column {subject_column!r} is also the "
                            f"{'label' if subject_column == label else 'split'} column")
        if subject_column not in header:
            raise DataError(f"{p.name}: no subject column {subject_column!r}; columns: "
                            f"{', '.join(header)}")
        ui = header.index(subject_column)
    feats = [i for i in range(len(header)) if i not in (li, si, ui)]
    x = np.empty((len(rows) - 1, len(feats)), dtype=np.float64)
    y: list[str] = []
    marks: list[str] = []
    subjects: list[str] = []
    for r, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DataError(f"{p.name}: line {r} has {len(row)} fields, header has {len(header)}")
        y.append(row[li].strip())
        if si is not None:
            marks.append(row[si])
        if ui is not None:
            if not row[ui].strip():
                raise DataError(f"{p.name}: line {r}: the subject column {subject_column!r} "
                                "is empty (every row must name whose data it is)")
            subjects.append(row[ui].strip())
        for j, i in enumerate(feats):
            try:
                x[r - 2, j] = float(row[i])
            except ValueError:
                hint = (f"; if it gives each row's split, pass --split-column {header[i]}"
                        if row[i].strip().lower() in SPLIT_VALUES else "")
                raise DataError(f"{p.name}: line {r}, column {header[i]!r}: {row[i]!r} is "
                                f"not a number (feature columns must be numeric){hint}") from None
    return (x, np.array(y), marks if si is not None else None,
            subjects if ui is not None else None)


def _normalise(x: np.ndarray, name: str) -> np.ndarray:
    if x.ndim == 2:
        mu, sd = x.mean(axis=0), x.std(axis=0)
        return (x - mu) / np.where(sd > 0, sd, 1.0)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise DataError(f"{name}: X must be (n, features), (n, h, w) or (n, c, h, w); "
                        f"got {x.shape}")
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else x - lo
