"""Linear centered kernel alignment (CKA) between two representations of the same samples.

Kornblith, Norouzi, Lee & Hinton, "Similarity of Neural Network Representations Revisited",
ICML 2019, eq. (5)::

    CKA(X, Y) = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)

for column-centred X (n x p) and Y (n x q). It is 1 for identical representations and is
invariant to orthogonal transforms and isotropic scaling of either side, but not to general
invertible linear maps (Section 3 of the paper). Pure numpy: the dashboard uses it and must not
import torch.
"""

from __future__ import annotations

import numpy as np


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA in [0, 1] between ``x`` (n, p) and ``y`` (n, q): row i of both is sample i.

    A 1-D array is one feature per sample; more than two dimensions are flattened per sample
    (e.g. convolutional activations n x C x H x W).
    """
    a = _as_matrix(x, "x")
    b = _as_matrix(y, "y")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"linear_cka: x and y must describe the same samples; x has "
                         f"{a.shape[0]} rows and y has {b.shape[0]}")
    if a.shape[0] < 2:
        raise ValueError(f"linear_cka: needs at least 2 samples, got {a.shape[0]}")
    for name, m in (("x", a), ("y", b)):
        if not np.ptp(m, axis=0).any():  # exact: every feature constant over the samples
            raise ValueError(f"linear_cka: {name} has zero variance (every feature is "
                             "constant over the samples), so CKA is undefined")
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    n, p, q = a.shape[0], a.shape[1], b.shape[1]
    if n < max(p, q):
        # Same quantity through the n x n Gram matrices (tr(K L) = ||Y^T X||_F^2, ||K||_F =
        # ||X^T X||_F): cheaper when features outnumber samples, as in wide conv layers.
        k, m = a @ a.T, b @ b.T
        cross, norm_a, norm_b = float(np.sum(k * m)), np.linalg.norm(k), np.linalg.norm(m)
    else:
        cross = float(np.linalg.norm(b.T @ a) ** 2)
        norm_a, norm_b = np.linalg.norm(a.T @ a), np.linalg.norm(b.T @ b)
    # Cauchy-Schwarz bounds the ratio by 1; rounding can overshoot by an ulp.
    return float(min(1.0, max(0.0, cross / (float(norm_a) * float(norm_b)))))


def _as_matrix(x: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0:
        raise ValueError(f"linear_cka: {name} must be an array of samples, got a scalar")
    a = a.reshape(a.shape[0], -1) if a.ndim != 1 else a[:, None]
    if a.shape[1] == 0:
        raise ValueError(f"linear_cka: {name} has no features (shape {np.shape(x)})")
    if not np.isfinite(a).all():
        raise ValueError(f"linear_cka: {name} holds NaN or infinite values")
    return a
