"""Metrics (METRICS.md) for every kind: pure functions of model outputs, and the registry.

Nothing here runs a model: the probes that do live with their kind
(``tasks/classification/probe.py``, ``tasks/causal_lm/probe.py``).
The names below are imported on first use (PEP 562): ``Outputs`` lives beside torch in
``obliviate.types``, and the dashboard, which must never import torch, imports
``obliviate.metrics.cka``, which runs this file first.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from obliviate.metrics.classification import (
        accuracy,
        per_class_accuracy,
        unlearning_accuracy,
    )
    from obliviate.metrics.divergence import js_divergence
    from obliviate.metrics.gap import GAP_METRICS, avg_gap
    from obliviate.metrics.mia import mia_efficacy, select_members
    from obliviate.metrics.registry import METRICS, MetricInfo, get_metric, headline
    from obliviate.metrics.values import MetricValue

# name -> the submodule that defines it
_HOME = {
    "accuracy": "classification", "per_class_accuracy": "classification",
    "unlearning_accuracy": "classification", "js_divergence": "divergence",
    "GAP_METRICS": "gap", "avg_gap": "gap", "mia_efficacy": "mia", "select_members": "mia",
    "METRICS": "registry",
    "MetricInfo": "registry", "MetricValue": "values", "get_metric": "registry",
    "headline": "registry",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)


__all__ = [
    "GAP_METRICS",
    "METRICS",
    "MetricInfo",
    "MetricValue",
    "accuracy",
    "avg_gap",
    "get_metric",
    "headline",
    "js_divergence",
    "mia_efficacy",
    "per_class_accuracy",
    "select_members",
    "unlearning_accuracy",
]
