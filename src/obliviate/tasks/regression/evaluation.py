"""The regression evaluation suite: every number of METRICS.md's "Regression" section for each
role (original, unlearned, oracle and, when trained, the noise floor).

Models run once per (model, split) through ``probe.predict``; every metric is a pure function
of those predictions (``metrics/regression.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from torch import nn

from obliviate.metrics.registry import METRICS
from obliviate.metrics.regression import (
    gap,
    loss_mia_efficacy,
    mae,
    mse,
    normalised,
    r2,
    wasserstein,
)
from obliviate.tasks.regression.probe import predict

if TYPE_CHECKING:
    from obliviate.tasks.regression.scenario import RegressionData

SPLITS = {"forget": "D_f", "retain": "D_r", "test": "D_t"}


def predictions(models: dict[str, nn.Module], data: RegressionData,
                ) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """role -> split -> (predictions, targets), in target units."""
    return {role: {s.name: predict(m, s, data.y_mean, data.y_std)
                   for s in (data.forget, data.retain, data.test)}
            for role, m in models.items()}


def evaluate(models: dict[str, nn.Module], data: RegressionData, *, seed: int,
             ) -> dict[str, Any]:
    """``metrics[name][role]`` for every role in ``models`` (with ``unit``,
    ``higher_is_better`` and ``per_sample``); W1 and the gap are taken against the oracle."""
    preds = predictions(models, data)
    values: dict[str, dict[str, tuple[float | None, np.ndarray | None]]] = {}
    for role, out in preds.items():
        v: dict[str, tuple[float | None, np.ndarray | None]] = {}
        for split, tag in SPLITS.items():
            p, y = out[split]
            sq, ab = mse(y, p), mae(y, p)
            v[f"MSE ({tag})"] = (sq.value, sq.per_sample)
            v[f"MAE ({tag})"] = (ab.value, ab.per_sample)
            v[f"nMAE ({tag})"] = (normalised(ab.value, data.y_std), None)
            v[f"R² ({tag})"] = (r2(y, p), None)
        loss = {s: (out[s][0] - out[s][1]) ** 2 for s in SPLITS}  # the per-sample loss
        mia = loss_mia_efficacy(loss["retain"], loss["test"], loss["forget"], seed=seed)
        v["MIA-Eff (loss)"] = (mia.value, mia.per_sample)
        for split in ("forget", "test"):
            v[f"W1 ({SPLITS[split]})"] = (wasserstein(out[split][0],
                                                      preds["oracle"][split][0]), None)
        values[role] = v
    oracle = {k: float(x) for k, (x, _) in values["oracle"].items() if x is not None}
    for v in values.values():
        own = {k: float(x) for k, (x, _) in v.items() if x is not None}
        v["Gap"] = (gap(own, oracle), None)
    metrics: dict[str, Any] = {}
    for name in [n for n, m in METRICS.items() if "regression" in m.kinds and n != "RTE"]:
        info = METRICS[name]
        entry: dict[str, Any] = {"unit": info.unit, "higher_is_better": info.higher_is_better,
                                 "per_sample": {}}
        for role, v in values.items():
            value, per = v[name]
            entry[role] = value
            if per is not None:
                entry["per_sample"][role] = [float(f"{x:.6g}") for x in per]
        metrics[name] = entry
    return metrics
