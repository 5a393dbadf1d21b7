"""``obliviate exact``: a guaranteed method trained on the training rows, the forget set
deleted request by request, recorded as an ordinary run (issue 13).

It is ``obliviate run --train NAME:... --method NAME --set requests=N`` (``adapter.py``): the
record is an ``obliviate.run/2`` RunRecord, indexed in the store, beside the oracle (the
scenario's retrain without the forget set) and the noise floor like any method's, and its
``guarantee`` field states the guarantee, each request's evidence and the comparison with
the method trained from scratch on the retained rows.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from obliviate.errors import ObliviateError
from obliviate.guaranteed.learners import LEARNERS, LearnerSpec
from obliviate.runner import RunSpec, run
from obliviate.workspace import Workspace

EXACT_METHODS = LEARNERS


def get_exact(name: str) -> LearnerSpec:
    if name not in LEARNERS:
        raise ObliviateError(f"unknown exact method {name!r}; valid: {', '.join(LEARNERS)}")
    return LEARNERS[name]


def train_text(name: str, overrides: Mapping[str, object]) -> str:
    """``sisa`` and {"shards": 5} -> ``sisa:shards=5`` (the ``--train`` of ``obliviate run``)."""
    bad = [f"{k}={v}" for k, v in overrides.items() if "," in f"{k}={v}"]
    if bad:
        raise ObliviateError(f"--set {bad[0]!r}: a value may not hold a comma")
    items = ",".join(f"{k}={v}" for k, v in overrides.items())
    return name + (f":{items}" if items else "")


def run_exact(name: str, spec: RunSpec, overrides: Mapping[str, object], *, requests: int,
              ws: Workspace, verify: bool = True, progress: bool = True,
              ) -> tuple[dict[str, Any], Path]:
    """Train ``name`` (config ``overrides``) as the original of ``spec``'s scenario, delete
    the forget set in ``requests`` requests, evaluate and record as ``obliviate run``."""
    get_exact(name)
    spec = dataclasses.replace(spec, method=name, train=train_text(name, overrides),
                               overrides={"requests": requests, "verify": verify})
    return run(spec, ws, progress=progress)


def summary(record: dict[str, Any]) -> str:
    """The guarantee lines under the run table."""
    g = record["guarantee"]
    if "privacy" in g:  # DP2Unlearning: the accounting of its DP-SGD training
        p, grp = g["privacy"], g["group"]
        return (f"guarantee: {g['guarantee']} per row (dp2u: DP-SGD, then fine-tuning on the "
                f"retained rows): epsilon {p['epsilon']:.3f}, delta {p['delta']:g} "
                f"({p['accountant']} accountant; noise multiplier "
                f"{p['noise_multiplier']:.4f}, sample rate {p['sample_rate']:.4f}, "
                f"{p['steps']} steps, clipping {p['max_grad_norm']:g}); for the "
                f"{grp['rows']} forgotten rows as a group: epsilon {grp['epsilon']:.3g}")
    reqs = g["requests"]
    lines = [f"guarantee: {g['guarantee']} ({g['method']}, trained with "
             f"{json.dumps(g['trained_with']['config'])}); {len(reqs)} request(s), "
             f"{sum(r['removed'] for r in reqs)} rows removed"]
    if "verification" in g:
        lines.append("against the method trained from scratch on the retained rows: "
                     + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                 for k, v in g["verification"].items()))
    last = reqs[-1]["evidence"]
    lines.append("evidence (last request): " + json.dumps(
        {k: v for k, v in last.items() if k != "shards"})[:300])
    return "\n".join(lines)
