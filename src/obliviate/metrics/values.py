"""What a metric returns (the registry of what each one means is ``metrics/registry.py``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MetricValue:
    """A metric's headline number and the per-sample values it summarises.

    Per-sample values are always kept (METRICS.md: the dashboard and statistical tests need
    them). Their scale is the metric's own: 0/1 indicators for the percentage metrics
    (``value == 100 * mean(per_sample)``), nats for divergences (``value == mean``).
    """

    value: float
    per_sample: np.ndarray
