"""``obliviate exact``: train a guaranteed method on a classification scenario, honour the
forget set as a sequence of deletion requests, and write a record that states the guarantee
and its evidence.

The record (schema ``obliviate.exact/1``, written atomically to ``<home>/runs/exact/``) is
its own kind: the run store indexes RunRecords of ``obliviate run``, whose roles (original,
oracle, unlearned) are single models of the scenario's architecture. Here the "original" is
the guaranteed method trained on every training row, and the reference is the same method
trained from scratch on the retained rows (``verify``), which is what exactness is about.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO, cast

import numpy as np
import torch
from tqdm.auto import tqdm

import obliviate
from obliviate.config import build_config, config_dict
from obliviate.errors import ObliviateError
from obliviate.experiment import environment
from obliviate.guaranteed.analytic import AnalyticConfig, AnalyticModel
from obliviate.guaranteed.certified import CertifiedConfig, CertifiedLogistic
from obliviate.guaranteed.checkpoints import CheckpointStore
from obliviate.guaranteed.guarantee import Deletion
from obliviate.guaranteed.s3t import S3T, S3TConfig
from obliviate.guaranteed.sisa import SISA, SISAConfig
from obliviate.metrics.classification import accuracy
from obliviate.storage.atomic import atomic_write
from obliviate.tasks.classification.models import build_model
from obliviate.types import Outputs, Split

SCHEMA = "obliviate.exact/1"


@dataclass(frozen=True)
class ExactSpec:
    name: str
    config: type[Any]
    paper: str
    guarantee: str


EXACT_METHODS: dict[str, ExactSpec] = {
    "acu": ExactSpec("acu", AnalyticConfig, "analytic continual unlearning (ACU): ridge/RLS "
                     "head on a data-free random feature map, Woodbury downdates", "exact"),
    "sisa": ExactSpec("sisa", SISAConfig, "Bourtoule et al. 2021, IEEE S&P (SISA)", "exact"),
    "s3t": ExactSpec("s3t", S3TConfig, "Chowdhury et al., Towards Scalable Exact Machine "
                     "Unlearning Using Parameter-Efficient Fine-Tuning (S3T)", "exact"),
    "certified": ExactSpec("certified", CertifiedConfig, "Guo et al. 2020, ICML (certified "
                           "removal, one-vs-rest logistic regression)",
                           "(epsilon, delta)-certified"),
}


def get_exact(name: str) -> ExactSpec:
    if name not in EXACT_METHODS:
        raise ObliviateError(f"unknown exact method {name!r}; valid: {', '.join(EXACT_METHODS)}")
    return EXACT_METHODS[name]


class _Learner:
    """One method behind three calls: train on a split, delete ids, score inputs."""

    def __init__(self, name: str, cfg: Any, data: Any, seed: int, progress: bool) -> None:
        self.name, self.cfg, self.data, self.seed = name, cfg, data, seed
        self.progress = progress

    def train(self, split: Split, store_dir: Path) -> Any:
        x, y = split.inputs.numpy(), split.targets.numpy()
        if self.name == "acu":
            return AnalyticModel.train(x, y, split.ids, self.data.n_classes, self.cfg, self.seed)
        if self.name == "certified":
            return CertifiedLogistic(x, y, split.ids, self.data.n_classes, self.cfg,
                                     seed=self.seed)
        if self.name == "s3t":
            m = S3T(split, self.cfg, self.data.n_classes, seed=self.seed,
                    store=CheckpointStore(store_dir))
            m.fit()
            return m
        d = self.data

        def factory(seed: int) -> torch.nn.Module:
            return build_model(d.model, d.pool.input_shape, d.n_classes, seed)

        s = SISA(split, self.cfg, d.recipe, d.task, factory, f"{d.scenario}/{d.model}",
                 CheckpointStore(store_dir), seed=self.seed)
        s.fit(progress=self.progress)
        return s

    def delete(self, model: Any, rows: Split) -> Deletion:
        if self.name == "acu":
            return cast(Deletion, model.delete(rows.inputs.numpy(), rows.targets.numpy(),
                                               rows.ids))
        return cast(Deletion, model.delete(rows.ids))

    def scores(self, model: Any, split: Split) -> np.ndarray:
        if self.name == "acu":
            from obliviate.guaranteed.analytic import featurize

            return np.asarray(model.head.scores(featurize(split.inputs.numpy(), model.cfg,
                                                          model.seed)))
        if self.name == "certified":
            return np.asarray(model.scores(split.inputs.numpy()))
        if self.name == "s3t":
            return np.asarray(model.scores(split.inputs).double().numpy())
        with torch.no_grad():
            return np.asarray(model.ensemble()(split.inputs).double().numpy())

    def compare(self, live: Any, scratch: Any) -> dict[str, Any]:
        """How the model after the deletions compares with the method trained from scratch
        on the retained rows: the evidence of exactness."""
        if self.name == "sisa":
            a, b = live.ensemble().state_dict(), scratch.ensemble().state_dict()
            same = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
            return {"bit_identical_to_scratch": bool(same), "tensors": len(a)}
        if self.name == "s3t":
            # The served layers (each shard's order and prefix after the deletions) against
            # the same layers of S3T trained from scratch on the retained rows; the layers a
            # deletion deactivated are not served and differ by design.
            sel = live.selection()
            a, b = live.served_state(sel), scratch.served_state(sel)
            same = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
            x = self.data.test.inputs
            out = torch.equal(live.scores(x, sel), scratch.scores(x, sel))
            return {"bit_identical_to_scratch": bool(same and out), "tensors": len(a),
                    "served_layers": {str(s): n for s, (_, n) in sel.items()},
                    "deletions_absorbed": live.absorbed, "shard_retrains": live.retrains}
        wa = live.head.weights if self.name == "acu" else live.W
        wb = scratch.head.weights if self.name == "acu" else scratch.W
        return {"max_abs_weight_difference_to_scratch": float(np.abs(wa - wb).max())}


def run_exact(name: str, exp: Any, overrides: Mapping[str, object], *, requests: int,
              home: Path, verify: bool = True, progress: bool = True,
              ) -> tuple[dict[str, Any], Path]:
    """Train, delete ``exp.forget`` in ``requests`` requests, evaluate, write the record."""
    spec = get_exact(name)
    if exp.kind != "classification":
        raise ObliviateError(f"obliviate exact supports classification scenarios; "
                             f"{exp.scenario!r} is {exp.kind!r}")
    cfg = build_config(spec.config, overrides)
    forget, train = exp.forget, exp.train_split()
    if len(forget) == 0:
        raise ObliviateError(f"the forget set {exp.forget_spec!r} is empty: nothing to delete")
    if not 1 <= requests <= len(forget):
        raise ObliviateError(f"--requests {requests}: need 1 .. {len(forget)} (one row at "
                             "least per request)")
    order = np.random.default_rng(exp.seed).permutation(len(forget))
    parts = [np.sort(p) for p in np.array_split(order, requests)]
    learner = _Learner(name, cfg, exp, exp.seed, progress)
    store = home / "checkpoints" / name  # sisa's and s3t's (acu and certified keep none)
    try:
        start = time.perf_counter()
        model = learner.train(train, store)
        train_seconds = time.perf_counter() - start
        before = _accuracies(learner, model, exp)
        deletions = [learner.delete(model, forget.subset(p)) for p in
                     tqdm(parts, desc=f"{name} requests", disable=not progress, leave=False)]
        after = _accuracies(learner, model, exp)
        reference: dict[str, Any] = {}
        if verify:
            with tempfile.TemporaryDirectory() as tmp:  # never the live checkpoints
                start = time.perf_counter()
                scratch = learner.train(exp.retain, Path(tmp))
                reference = {"scratch_seconds": time.perf_counter() - start,
                             "accuracy": _accuracies(learner, scratch, exp),
                             **learner.compare(model, scratch)}
    except ValueError as e:  # the guaranteed methods' own checks: bad sizes, rows, values
        raise ObliviateError(str(e)) from None
    delete_seconds = sum(d.seconds for d in deletions)
    record = _record(spec, cfg, exp, requests, deletions, before, after, reference,
                     train_seconds, delete_seconds)
    out = home / "runs" / "exact"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{record['run_id']}.json"

    def dump(f: TextIO) -> None:
        json.dump(record, f, indent=1, allow_nan=False)

    atomic_write(path, dump)
    return record, path


def _accuracies(learner: _Learner, model: Any, exp: Any) -> dict[str, float]:
    out = {}
    for split in (exp.forget, exp.retain, exp.test):
        scores = learner.scores(model, split)
        out[split.name] = accuracy(Outputs(scores, split.targets.numpy())).value
    return out


def _record(spec: ExactSpec, cfg: object, exp: Any, requests: int, deletions: list[Deletion],
            before: dict[str, float], after: dict[str, float], reference: dict[str, Any],
            train_seconds: float, delete_seconds: float) -> dict[str, Any]:
    now = dt.datetime.now(dt.timezone.utc)
    tag = hashlib.sha1(f"{now.isoformat()}{os.getpid()}{spec.name}".encode()).hexdigest()[:8]
    scratch = reference.get("scratch_seconds")
    return {
        "schema": SCHEMA,
        "run_id": f"{now:%Y%m%dT%H%M%S}-exact-{spec.name}-{tag}",
        "created": now.isoformat(),
        "scenario": {"name": exp.scenario, "forget": exp.forget_spec, "seed": exp.seed,
                     "kind": exp.kind, "sizes": exp.sizes(), "model": exp.model},
        "method": {"name": spec.name, "paper": spec.paper, "config": config_dict(cfg)},
        "guarantee": spec.guarantee,
        "requests": [d.as_dict() for d in deletions],
        "accuracy": {"before": before, "after": after},
        "reference": reference,
        "efficiency": {"train_seconds": train_seconds, "delete_seconds": delete_seconds,
                       "requests": requests,
                       "speedup_vs_scratch": None if scratch is None else
                       scratch * requests / max(delete_seconds, 1e-9),
                       "environment": environment()},
        "environment": {"obliviate": obliviate.__version__, "torch": torch.__version__},
    }


def summary(record: dict[str, Any]) -> str:
    """A few lines for the terminal."""
    acc = record["accuracy"]
    lines = [f"{record['method']['name']}: guarantee {record['guarantee']}, "
             f"{len(record['requests'])} request(s), "
             f"{sum(r['removed'] for r in record['requests'])} rows removed",
             "accuracy %      forget  retain    test",
             *(f"  {k:<12} {v['forget']:7.2f} {v['retain']:7.2f} {v['test']:7.2f}"
               for k, v in (("before", acc["before"]), ("after", acc["after"]),
                            *((("scratch", record["reference"]["accuracy"]),)
                              if record["reference"] else ())))]
    ref = {k: v for k, v in record["reference"].items() if k not in ("accuracy",)}
    if ref:
        lines.append("reference: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float)
                                                else f"{k} {v}" for k, v in ref.items()))
    eff = record["efficiency"]
    speed = eff["speedup_vs_scratch"]
    lines.append(f"deletion {eff['delete_seconds']:.3f} s for {eff['requests']} request(s)"
                 + ("" if speed is None else f"; retraining each time: {speed:.1f}x slower"))
    last = record["requests"][-1]["evidence"]
    lines.append("evidence (last request): " + json.dumps(
        {k: v for k, v in last.items() if k != "shards"})[:300])
    return "\n".join(lines)

