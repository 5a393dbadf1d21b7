"""scikit-learn's bundled 8x8 digits (1,797 images, 10 classes); read from disk, no download."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits

from obliviate.tasks.classification.pool import Pool, make_pool


def digits_pool() -> Pool:
    """Digits as (n, 1, 8, 8) images scaled to [0, 1]."""
    d = load_digits()
    x = (np.asarray(d.images, dtype=np.float32) / 16.0)[:, None, :, :]
    return make_pool("digits", x, d.target, tuple(str(c) for c in range(10)))
