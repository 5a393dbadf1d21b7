"""Which test predictions part an unlearned classifier from the oracle, beside retrain noise.

    PYTHONPATH=src python benchmarks/flips.py [--seeds 3,4,5,6,7,8,9] [--retrains 4] \\
        [--method ssd] [--grid KEY VALUE...] [--no-preset] [--scenario digits] \\
        [--forget class:3] [--home DIR]

On class forgetting every metric of Avg. Gap but TA is usually equal to the oracle's (UA, RA
and MIA-Efficacy all 100), so the gap is a count of test images. Per seed, for each setting
of the method (the scenario's preset plus each ``--grid`` combination) and for ``--retrains``
independent exact retrains (init seeds seed + 1000 k, k = 1..K; k = 1 is the benchmark's
noise-floor row), this prints
  Avg.Gap; dTA, correct test images minus the oracle's; "kept", test images outside the
  forget classes predicted as the original predicted them; "vs oracle out / in", test images
  outside / inside the forget classes predicted differently from the oracle; the time
  against the oracle's training (cached: measured when it was trained).
The summary ranks the settings by mean Avg. Gap and says on what share of (seed, retrain)
pairs each is within that retrain's distance (its Avg. Gap <= the retrain's, same seed).
Use it on seeds no benchmark reports (benchmarks/classifier.py reports 0-2).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from obliviate.config import build_config
from obliviate.errors import ObliviateError
from obliviate.grid import parse_seeds
from obliviate.methods import get_method
from obliviate.presets import preset_for
from obliviate.runner import RunSpec, Trained, Workspace, _warm_up, prepare
from obliviate.tasks.classification.evaluation import evaluate
from obliviate.tasks.classification.probe import probe


def _sibling(name: str) -> Any:  # benchmarks/ is scripts, not a package
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


settings = _sibling("sweep").settings


def changes(pred: np.ndarray, ref: np.ndarray, labels: np.ndarray,
            forget_classes: np.ndarray) -> tuple[int, int]:
    """(outside, inside): test images whose label is outside / inside the forget classes on
    which ``pred`` and ``ref`` (predicted classes) differ."""
    inside = np.isin(labels, forget_classes)
    differ = pred != ref
    return int((differ & ~inside).sum()), int((differ & inside).sum())


def correct_diff(pred: np.ndarray, oracle: np.ndarray, labels: np.ndarray) -> int:
    """Correct test images of ``pred`` minus the oracle's (TA gap in images, signed)."""
    return int((pred == labels).sum()) - int((oracle == labels).sum())


def within_share(gaps: dict[int, float], floors: dict[int, list[float]]) -> float:
    """Share of (seed, retrain) pairs with ``gaps[seed] <= that retrain's gap``."""
    pairs = [(gaps[s], f) for s in gaps for f in floors[s]]
    return sum(g <= f + 1e-9 for g, f in pairs) / len(pairs)


def _row(name: str, t: Trained, model: nn.Module, seconds: float | None,
         forget_classes: np.ndarray) -> dict[str, Any]:
    d = t.data
    labels = d.test.targets.numpy()

    def pred(m: nn.Module) -> np.ndarray:
        return np.asarray(probe(m, d.test).logits.argmax(1))

    p, po, pr = pred(model), pred(t.original), pred(t.oracle)
    metrics, _ = evaluate({"original": t.original, "unlearned": model, "oracle": t.oracle}, d,
                          seed=d.seed)
    kept_out = len(labels) - int(np.isin(labels, forget_classes).sum()) - changes(
        p, po, labels, forget_classes)[0]
    out, inside = changes(p, pr, labels, forget_classes)
    return {"name": name, "gap": metrics["Avg.Gap"]["unlearned"],
            "dTA": correct_diff(p, pr, labels), "kept": kept_out,
            "outside": int((~np.isin(labels, forget_classes)).sum()), "vs_out": out,
            "vs_in": inside,
            "pct": None if seconds is None else 100 * seconds / float(t.meta["oracle"]["seconds"])}


def _line(seed: int, r: dict[str, Any]) -> str:
    pct = "" if r["pct"] is None else f", {r['pct']:.2f}% of retraining"
    return (f"seed {seed} {r['name']}: Avg.Gap {r['gap']:.2f}, dTA {r['dTA']:+d}, kept "
            f"{r['kept']}/{r['outside']}, vs oracle out {r['vs_out']} / in {r['vs_in']}{pct}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="digits")
    p.add_argument("--forget", default="class:3")
    p.add_argument("--method", default="ssd")
    p.add_argument("--seeds", default="3,4,5,6,7,8,9")
    p.add_argument("--retrains", type=int, default=4, help="independent retrains per seed")
    p.add_argument("--grid", nargs="+", action="append", default=[], metavar="KEY VALUE")
    p.add_argument("--no-preset", action="store_true")
    p.add_argument("--home", type=Path, default=None, help="default: a temporary directory")
    args = p.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    if args.retrains < 1:
        raise ObliviateError(f"--retrains {args.retrains}: need at least 1")
    spec, retrain = get_method(args.method), get_method("retrain")
    base = {} if args.no_preset else preset_for(args.scenario, args.method, args.forget)
    grid = settings(args.grid) if args.grid else [{}]
    cfgs = [build_config(spec.config, {**base, **s}) for s in grid]  # bad values fail here
    torch.set_num_threads(1)
    ws = Workspace(args.home or Path(tempfile.mkdtemp(prefix="obliviate-flips-")))
    print(f"{args.method} on {args.scenario} {args.forget}, on top of "
          f"{json.dumps(base) if base else 'the defaults'}", flush=True)
    gaps: dict[str, dict[int, float]] = {json.dumps(s): {} for s in grid}
    rows: dict[str, list[dict[str, Any]]] = {json.dumps(s): [] for s in grid}
    floors: dict[int, list[float]] = {}
    floor_rows: list[dict[str, Any]] = []
    for seed in seeds:
        t = prepare(RunSpec(args.method, args.forget, args.scenario, seed), ws, progress=False)
        d = t.data
        forget_classes = np.unique(d.forget.targets.numpy())
        for s, cfg in zip(grid, cfgs, strict=True):
            model = copy.deepcopy(t.original)
            _warm_up(t.original, d)
            start = time.perf_counter()
            model = spec.unlearn(model, d.unlearn_data(), cfg, task=d.task, seed=seed).model
            r = _row(json.dumps(s), t, model.eval(), time.perf_counter() - start,
                     forget_classes)
            gaps[json.dumps(s)][seed] = r["gap"]
            rows[json.dumps(s)].append(r)
            print(_line(seed, r), flush=True)
        floors[seed] = []
        for k in range(1, args.retrains + 1):
            if k == 1 and t.independent is not None:  # the benchmark's noise floor, cached
                model = t.independent
            else:
                rcfg = build_config(retrain.config, {"init_seed": seed + 1000 * k})
                model = retrain.unlearn(copy.deepcopy(t.original), d.unlearn_data(), rcfg,
                                        task=d.task, seed=seed).model
            r = _row(f"retrain k={k}", t, model.eval(), None, forget_classes)
            floors[seed].append(r["gap"])
            floor_rows.append(r)
            print(_line(seed, r), flush=True)
    print(f"\nseeds {args.seeds}; retrains: Avg.Gap mean {_mean(floor_rows, 'gap'):.3f} over "
          f"{len(floor_rows)} (the k=1 row alone: "
          f"{statistics.mean(f[0] for f in floors.values()):.3f}), mean |dTA| "
          f"{_mean(floor_rows, 'dTA', abs):.2f} images, vs oracle out "
          f"{_mean(floor_rows, 'vs_out'):.2f} / in {_mean(floor_rows, 'vs_in'):.2f}")
    for key in sorted(rows, key=lambda k: statistics.mean(gaps[k].values())):
        rs = rows[key]
        pct = [r["pct"] for r in rs]
        each = " ".join(f"{r['gap']:.2f}" for r in rs)
        print(f"{key}: Avg.Gap mean {_mean(rs, 'gap'):.3f} [{each}]"
              f", mean |dTA| {_mean(rs, 'dTA', abs):.2f}, kept outside "
              f"{sum(r['kept'] for r in rs)}/{sum(r['outside'] for r in rs)}, vs oracle out "
              f"{_mean(rs, 'vs_out'):.2f} / in {_mean(rs, 'vs_in'):.2f}; within the retrain "
              f"on {100 * within_share(gaps[key], floors):.0f}% of (seed, retrain) pairs; "
              f"{statistics.mean(pct):.2f}% of retraining (max {max(pct):.2f})")
    return 0


def _mean(rows: list[dict[str, Any]], key: str, f: Any = float) -> float:
    return statistics.mean(f(r[key]) for r in rows)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ObliviateError as e:
        print(f"{Path(__file__).name}: error: {e}", file=sys.stderr)
        sys.exit(2)
