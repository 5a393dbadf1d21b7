"""The recommendation evaluation suite: every METRICS.md number for each role.

Each model is probed once (``probe_pairs``) on the held-out test interactions, the forget
interactions and the retained training interactions; every metric below is a pure function
of what that returns (``metrics/recommendation.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from torch import nn

from obliviate.metrics.recommendation import (
    hit_rate,
    interaction_mia_efficacy,
    ndcg_at_k,
    percentile_rank,
    rec_gap,
    recall_at_k,
)
from obliviate.metrics.registry import METRICS
from obliviate.metrics.values import MetricValue
from obliviate.tasks.recommendation.probe import PairScores, probe_pairs

if TYPE_CHECKING:
    from obliviate.tasks.recommendation.scenario import RecData

NAMES = ("Recall@10", "Recall@20", "NDCG@10", "NDCG@20", "Forget rank", "Hit@20 (D_f)",
         "MIA-Eff (interactions)", "Rec.Gap")


def role_values(got: dict[str, PairScores], data: RecData, *, seed: int,
                ) -> dict[str, MetricValue]:
    """Every metric but Rec.Gap from one model's probe."""
    owner = data.test.inputs.numpy()
    test, forget = got["test"], got["forget"]
    return {
        "Recall@10": recall_at_k(test.rank, owner, 10),
        "Recall@20": recall_at_k(test.rank, owner, 20),
        "NDCG@10": ndcg_at_k(test.rank, owner, 10),
        "NDCG@20": ndcg_at_k(test.rank, owner, 20),
        "Forget rank": percentile_rank(forget.rank, forget.candidates),
        "Hit@20 (D_f)": hit_rate(forget.rank, 20),
        "MIA-Eff (interactions)": interaction_mia_efficacy(
            got["retain"].log_confidence, test.log_confidence, forget.log_confidence,
            seed=seed),
    }


def evaluate(models: dict[str, nn.Module], data: RecData, *, seed: int,
             ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics, the record's ``recommendation`` fields) for every role in ``models``.

    ``metrics[name][role]`` is the value and ``metrics[name]["per_sample"][role]`` the
    per-sample values (per user for Recall / NDCG, per forget interaction otherwise); Rec.Gap
    is taken against the oracle (0 for the oracle itself).
    """
    pairs = {s.name: (s.inputs.numpy(), s.targets.numpy())
             for s in (data.test, data.forget, data.retain)}
    probes = {role: probe_pairs(m, pairs, data.known) for role, m in models.items()}
    values = {role: role_values(got, data, seed=seed) for role, got in probes.items()}
    oracle = {k: v.value for k, v in values["oracle"].items()}
    metrics: dict[str, Any] = {}
    for name in NAMES:
        info = METRICS[name]
        entry: dict[str, Any] = {"unit": info.unit, "higher_is_better": info.higher_is_better,
                                 "per_sample": {}}
        for role in models:
            if name == "Rec.Gap":
                entry[role] = rec_gap({k: v.value for k, v in values[role].items()}, oracle)
            else:
                entry[role] = float(values[role][name].value)
                entry["per_sample"][role] = _rounded(values[role][name].per_sample)
        metrics[name] = entry
    fields = {"forget_kind": data.forget_kind,
              "forget_mean_rank": {r: float(p["forget"].rank.mean()) for r, p in probes.items()},
              "mean_candidates": float(probes["oracle"]["forget"].candidates.mean())}
    return metrics, fields


def _rounded(a: np.ndarray) -> list[float]:
    """Per-sample values for JSON: 6 significant digits keep records small and exact enough."""
    return [float(f"{x:.6g}") for x in np.asarray(a, dtype=np.float64)]
