"""A pool of labelled samples: the rows a scenario draws its splits from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pool:
    """``x`` (n, ...) float32 inputs, ``y`` (n,) int64 labels, ``classes`` label names.

    ``row`` maps each pool row back to the row of the source file (so ``indices:FILE`` forget
    sets name rows the user knows); rows dropped as duplicates are absent from it.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    row: np.ndarray
    n_source_rows: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.x.shape[1:])

    def fingerprint(self) -> str:
        """sha256 of the inputs, labels and row numbers: changes whenever the data does."""
        h = hashlib.sha256()
        for arr in (self.x, self.y, self.row):
            h.update(str(arr.shape).encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()


def row_hashes(x: np.ndarray) -> np.ndarray:
    """One hex digest per sample, for exact-duplicate detection."""
    flat = np.ascontiguousarray(x.reshape(len(x), int(np.prod(x.shape[1:]))))  # n may be 0
    return np.array([hashlib.sha1(r.tobytes()).hexdigest() for r in flat])


def make_pool(name: str, x: np.ndarray, y: np.ndarray, classes: tuple[str, ...]) -> Pool:
    """Build a pool, dropping exact duplicate inputs so no sample can sit in two splits.

    A duplicated input keeps its first occurrence when all copies agree on the label, and is
    dropped entirely when they disagree (it would be both a member and a non-member).
    """
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    hashes = row_hashes(x)
    first: dict[str, int] = {}
    conflicted: set[str] = set()
    for i, h in enumerate(hashes):
        if h in first:
            if y[first[h]] != y[i]:
                conflicted.add(h)
        else:
            first[h] = i
    keep = np.array(sorted(i for h, i in first.items() if h not in conflicted), dtype=np.int64)
    return Pool(name, x[keep], y[keep], classes, keep, len(x))
