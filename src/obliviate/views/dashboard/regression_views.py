"""The dashboard's regression views: the classifier payloads that read labels as classes
(confusion, changed predictions), in regression terms. Records and sidecars only."""

from __future__ import annotations

from typing import Any

import numpy as np

from obliviate.storage import sidecar as sc
from obliviate.views.dashboard.shared import Model, aligned

MAX_CHANGED_ROWS = 200
MOVED = 0.1  # a prediction "changed" when it moved by more than 0.1 target std


def changed(ma: Model, sa_: dict[str, np.ndarray], mb: Model,
            sb: dict[str, np.ndarray]) -> dict[str, Any]:
    """Samples whose prediction differs between A and B by more than ``MOVED`` standard
    deviations of the training targets, largest moves first; the classifier view's columns
    (label = true target, a / b = predictions, conf = Gaussian likelihood of the target)."""
    std = float(ma.run.record["scenario"].get("target", {}).get("std") or 1.0)
    rows: list[tuple[float, dict[str, Any]]] = []
    counts = {}
    for split in sc.SPLITS:
        ids, ia, ib = aligned(ma, sa_, mb, sb, sc.ids_key(split))
        pa = sa_[sc.pred_key(ma.role, split)][ia].astype(np.float64)
        pb = sb[sc.pred_key(mb.role, split)][ib].astype(np.float64)
        ca = sa_[sc.confidence_key(ma.role, split)][ia]
        cb = sb[sc.confidence_key(mb.role, split)][ib]
        y = sa_[sc.label_key(split)][ia]
        moved = np.abs(pb - pa) / std
        diff = np.flatnonzero(moved > MOVED)
        counts[split] = {"changed": int(len(diff)), "compared": int(len(ids))}
        rows += [(float(moved[i]), {"id": int(ids[i]), "split": split, "label": _short(y[i]),
                                    "a": _short(pa[i]), "b": _short(pb[i]),
                                    "conf_a": float(ca[i]), "conf_b": float(cb[i])})
                 for i in diff]
    rows.sort(key=lambda r: -r[0])
    return {"counts": counts, "total": len(rows),
            "rows": [r for _, r in rows[:MAX_CHANGED_ROWS]],
            "threshold": f"predictions that moved by more than {MOVED} target standard "
                         "deviations"}


def _short(v: float) -> float:
    return float(f"{float(v):.4g}")
