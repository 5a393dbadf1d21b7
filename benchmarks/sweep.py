"""Sweep one method's settings over seeds: how a preset in ``presets.py`` was chosen.

    python benchmarks/sweep.py --scenario people --forget people:0.1 --method tnpo \\
        --seeds 3,4 --grid lr 4e-3 6e-3 --grid epochs 8 12 16 [--no-preset] [--home DIR]

Every combination of the ``--grid`` values (one ``--grid KEY VALUE...`` per config field) runs
on every seed, on top of the method's preset for the scenario (``--no-preset``: on top of the
paper's defaults). One line per run as it finishes, then one per setting: forget quality on
the worst seed and on the mean, utility against the original's, and whether the benchmark
bar (forget quality >= 0.05 at model utility >= 0.9 x the original's) holds on every seed.
Choose settings on seeds that the benchmark does not use (``benchmarks/lm.py`` runs 0, 1, 2),
so that its table measures the choice on seeds held out from it.

The runs are ordinary records in ``--home``: use a home apart from a benchmark's, or its
``--report-only`` table would mix them in (a symlinked ``cache`` shares trained models).
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from obliviate.config import build_config
from obliviate.methods import get_method
from obliviate.presets import preset_for
from obliviate.runner import RunSpec, Workspace, prepare, run

# The bar has one home, benchmarks/lm.py (a sibling script, not an importable package).
_spec = importlib.util.spec_from_file_location("bench_lm", Path(__file__).with_name("lm.py"))
assert _spec is not None and _spec.loader is not None
_bench_lm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bench_lm)


def settings(grid: list[list[str]]) -> list[dict[str, str]]:
    """``[["lr", "1e-3", "2e-3"], ["epochs", "8"]]`` -> one override dict per combination."""
    keys = [g[0] for g in grid]
    if len(set(keys)) != len(keys):
        raise SystemExit(f"--grid names a field twice: {', '.join(keys)}")
    for g in grid:
        if len(g) < 2:
            raise SystemExit(f"--grid {g[0]} has no values; expected --grid KEY VALUE...")
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(
        *(g[1:] for g in grid))]


def run_line(setting: dict[str, str], r: dict[str, Any]) -> str:
    m = r["metrics"]
    return (f"seed {r['scenario']['seed']} {json.dumps(setting)}: forget quality "
            f"{m['Forget quality']['unlearned']:.3g}, utility "
            f"{m['Model utility']['unlearned'] / m['Model utility']['original']:.3f}x, "
            f"PrivLeak {m['PrivLeak']['unlearned']:.1f}, "
            f"{r['efficiency']['unlearn_seconds']:.0f} s")


def summary(setting: dict[str, str], runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The setting's forget quality (worst and mean seed), utility ratio, bar on every seed."""
    fq = [r["metrics"]["Forget quality"]["unlearned"] for r in runs]
    mu = [r["metrics"]["Model utility"]["unlearned"] / r["metrics"]["Model utility"]["original"]
          for r in runs]
    return {"setting": setting, "seeds": [r["scenario"]["seed"] for r in runs],
            "fq_min": min(fq), "fq_mean": statistics.mean(fq), "mu_min": min(mu),
            "bar_every_seed": all(_bench_lm.meets([r]) for r in runs)}


def summary_line(s: dict[str, Any]) -> str:
    return (f"{json.dumps(s['setting'])} on seeds {s['seeds']}: forget quality worst "
            f"{s['fq_min']:.3g}, mean {s['fq_mean']:.3g}; utility worst {s['mu_min']:.3f}x; "
            f"bar on every seed: {'MET' if s['bar_every_seed'] else 'not met'}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="people")
    p.add_argument("--forget", default="people:0.1")
    p.add_argument("--method", required=True)
    p.add_argument("--seeds", default="3")
    p.add_argument("--grid", nargs="+", action="append", default=[], metavar="KEY VALUE",
                   help="a config field and the values to try; repeat for each field")
    p.add_argument("--no-preset", action="store_true",
                   help="apply the grid to the paper's defaults, not the scenario's preset")
    p.add_argument("--home", type=Path, default=None, help="default: a temporary directory")
    args = p.parse_args(argv)
    try:
        seeds = [int(x) for x in args.seeds.split(",")]
    except ValueError:
        p.error(f"--seeds {args.seeds!r}: expected integers separated by commas, e.g. 3,4")
    spec = get_method(args.method)
    grid = settings(args.grid) if args.grid else [{}]
    base = {} if args.no_preset else preset_for(args.scenario, args.method, args.forget)
    for s in grid:  # a bad field or value fails here, before anything is trained
        build_config(spec.config, {**base, **s})
    torch.set_num_threads(1)
    ws = Workspace(args.home or Path(tempfile.mkdtemp(prefix="obliviate-sweep-")))
    print(f"{args.method} on {args.scenario} {args.forget}, on top of "
          f"{json.dumps(base) if base else 'the defaults'}", flush=True)
    runs: dict[int, list[dict[str, Any]]] = {i: [] for i in range(len(grid))}
    for seed in seeds:
        trained = prepare(RunSpec(args.method, args.forget, args.scenario, seed), ws,
                          progress=False)
        for i, s in enumerate(grid):
            r, _ = run(RunSpec(args.method, args.forget, args.scenario, seed,
                               overrides={**base, **s}, use_preset=False), ws,
                       trained=trained, progress=False)
            runs[i].append(r)
            print(run_line(s, r), flush=True)
    print()
    for i, s in enumerate(grid):
        print(summary_line(summary(s, runs[i])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
