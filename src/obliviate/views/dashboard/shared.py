"""What the dashboard's view modules share: the compared model, sample alignment, layer CKA
and JSON-safe numbers. numpy only (the dashboard never imports torch)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from obliviate.metrics.cka import linear_cka
from obliviate.storage import sidecar as sc
from obliviate.views.dashboard.data import Run


@dataclass(frozen=True)
class Model:
    run: Run
    role: str  # "unlearned", "oracle" or "original": the sidecar's role prefix

    def describe(self) -> dict[str, Any]:
        rec = self.run.record
        who = rec["method"]["name"] if self.role == "unlearned" else self.role
        return {"run_id": self.run.run_id, "role": self.role, "method": rec["method"]["name"],
                "scenario": rec["scenario"].get("name"), "forget": rec["scenario"].get("forget"),
                "seed": rec["scenario"].get("seed"), "label": f"{who} · {self.run.run_id}"}


def layer_cka(ma: Model, sa_: dict[str, np.ndarray], mb: Model,
              sb: dict[str, np.ndarray]) -> dict[str, Any]:
    """Linear CKA per layer on the probe set: A vs B, and each against original and oracle."""
    names = [str(n) for n in sa_[sc.LAYERS]]
    if names != [str(n) for n in sb[sc.LAYERS]]:
        return {"unavailable": "the two models have different layers"}
    _, ia, ib = aligned(ma, sa_, mb, sb, sc.PROBE_IDS)
    if len(ia) < 2:
        return {"unavailable": "the two runs share fewer than 2 probe samples"}
    rows = []
    for k, name in enumerate(names):
        a, b = sa_[sc.layer_key(ma.role, k)], sb[sc.layer_key(mb.role, k)]
        rows.append({"layer": name, "a_b": _cka(a[ia], b[ib]),
                     "a_original": _cka(a, sa_[sc.layer_key("original", k)]),
                     "a_oracle": _cka(a, sa_[sc.layer_key("oracle", k)]),
                     "b_original": _cka(b, sb[sc.layer_key("original", k)]),
                     "b_oracle": _cka(b, sb[sc.layer_key("oracle", k)])})
    return {"probe": int(len(ia)), "rows": rows}


def aligned(ma: Model, sa_: dict[str, np.ndarray], mb: Model, sb: dict[str, np.ndarray],
             key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sample ids both sidecars hold under ``key``, and their positions in each."""
    if ma.run.run_id == mb.run.run_id or np.array_equal(sa_[key], sb[key]):
        ids = sa_[key]  # the usual case (one scenario and seed): keep the sidecar's order
        return ids, np.arange(len(ids)), np.arange(len(ids))
    ids, ia, ib = np.intersect1d(sa_[key], sb[key], assume_unique=True, return_indices=True)
    return ids, ia, ib


def _cka(x: np.ndarray, y: np.ndarray) -> float | None:
    try:
        return linear_cka(x, y)
    except ValueError:  # a constant layer (e.g. dead ReLUs): CKA is undefined, not 0
        return None


def number(v: Any) -> float | None:
    """A finite number, or None (JSON has no NaN; a missing value is not a number)."""
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    return float(v) if ok else None
