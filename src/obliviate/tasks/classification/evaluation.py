"""The classifier evaluation suite: every METRICS.md number for original, unlearned, oracle.

Models run once per (model, split) through ``probe``; every metric below is a pure function of
those outputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from obliviate.metrics import METRICS, MetricValue
from obliviate.metrics.classification import accuracy, per_class_accuracy, unlearning_accuracy
from obliviate.metrics.divergence import js_divergence
from obliviate.metrics.gap import avg_gap
from obliviate.metrics.mia import mia_efficacy
from obliviate.scenarios import ScenarioData
from obliviate.tasks.classification.probe import probe
from obliviate.types import Outputs

ROLES = ("original", "unlearned", "oracle")


def evaluate(models: dict[str, nn.Module], data: ScenarioData, *, seed: int,
             ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics, per-class test accuracy) for every role in ``models``.

    ``metrics[name][role]`` is the value, ``metrics[name]["per_sample"][role]`` the per-sample
    values; JS divergences and Avg. Gap are taken against the oracle (0 for the oracle itself).
    """
    outs: dict[str, dict[str, Outputs]] = {
        role: {s.name: probe(m, s) for s in (data.forget, data.retain, data.test)}
        for role, m in models.items()}
    values: dict[str, dict[str, MetricValue]] = {}
    for role, o in outs.items():
        values[role] = {
            "UA": unlearning_accuracy(o["forget"]),
            "RA": accuracy(o["retain"]),
            "TA": accuracy(o["test"]),
            "MIA-Eff": mia_efficacy(o["retain"], o["test"], o["forget"], seed=seed),
            "JS(D_f)": js_divergence(o["forget"].logits, outs["oracle"]["forget"].logits),
            "JS(D_t)": js_divergence(o["test"].logits, outs["oracle"]["test"].logits),
        }
    oracle = {k: v.value for k, v in values["oracle"].items()}
    metrics: dict[str, Any] = {}
    for name in ("UA", "RA", "TA", "MIA-Eff", "Avg.Gap", "JS(D_f)", "JS(D_t)"):
        info = METRICS[name]
        entry: dict[str, Any] = {"unit": info.unit, "higher_is_better": info.higher_is_better,
                                 "per_sample": {}}
        for role in (*ROLES, *(r for r in values if r not in ROLES)):  # + the noise floor
            if name == "Avg.Gap":
                own = {k: v.value for k, v in values[role].items()}
                entry[role] = avg_gap(own, oracle)
            else:
                v = values[role][name]
                entry[role] = float(v.value)
                entry["per_sample"][role] = _rounded(v.per_sample)
        metrics[name] = entry
    # A class absent from the test split has no accuracy: None, never a made-up number.
    per_class = {role: [None if np.isnan(a) else float(a)
                        for a in per_class_accuracy(o["test"], data.n_classes)]
                 for role, o in outs.items()}
    return metrics, per_class


def _rounded(a: np.ndarray) -> list[float]:
    """Per-sample values for JSON: 6 significant digits keep records small and exact enough."""
    return [float(f"{x:.6g}") for x in np.asarray(a, dtype=np.float64)]
