"""Sweep one method's settings over seeds: how a preset in ``presets.py`` was chosen.

    python benchmarks/sweep.py --scenario people --forget people:0.1 --method tnpo \\
        --seeds 3,4 --grid lr 4e-3 6e-3 --grid epochs 8 12 16 [--no-preset] [--home DIR]

Every combination of the ``--grid`` values (one ``--grid KEY VALUE...`` per config field) runs
on every seed, on top of the method's preset for the scenario and forget set (``--no-preset``:
on top of the paper's defaults). One line per run as it finishes, then one per setting: the
kind's headline metric (``metrics.registry.headline``: Avg. Gap for classifiers, lower is
better; forget quality for language models) on the mean and the worst seed, and the mean time
against retraining. A language model's line adds utility against the original's and whether
the benchmark bar (forget quality >= 0.05 at model utility >= 0.9 x the original's) holds on
every seed. Choose settings on seeds that the benchmarks do not use (``benchmarks/lm.py`` and
``benchmarks/classifier.py`` run 0, 1, 2), so that their tables measure the choice on seeds
held out from it.

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
from obliviate.errors import DivergedError
from obliviate.methods import get_method
from obliviate.metrics.registry import headline
from obliviate.presets import preset_for
from obliviate.runner import RunSpec, Workspace, prepare, run
from obliviate.storage.records import record_kind

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
    m, seed = r["metrics"], r["scenario"]["seed"]
    if record_kind(r) != "lm":
        h = headline(record_kind(r)).name
        return (f"seed {seed} {json.dumps(setting)}: {h} {m[h]['unlearned']:.2f}, "
                f"{_ratio(r['efficiency']['ratio'])} of retraining, "
                f"{r['efficiency']['unlearn_seconds']:.2f} s")
    return (f"seed {seed} {json.dumps(setting)}: forget quality "
            f"{m['Forget quality']['unlearned']:.3g}, utility "
            f"{m['Model utility']['unlearned'] / m['Model utility']['original']:.3f}x, "
            f"PrivLeak {m['PrivLeak']['unlearned']:.1f}, "
            f"{r['efficiency']['unlearn_seconds']:.0f} s")


def _ratio(x: float | None) -> str:
    return "time withheld" if x is None else f"{100 * x:.1f}%"  # timed elsewhere: no ratio


def summary(setting: dict[str, str], runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The setting's headline metric on the mean and the worst seed (the worst by the metric's
    direction) and its mean time ratio (None if any run's was withheld); for a language model
    also its worst utility ratio and whether the bar holds on every seed."""
    kind = record_kind(runs[0])
    h = headline(kind)
    values = [r["metrics"][h.name]["unlearned"] for r in runs]
    ratios = [r["efficiency"]["ratio"] for r in runs]
    out = {"setting": setting, "seeds": [r["scenario"]["seed"] for r in runs],
           "headline": h.name, "mean": statistics.mean(values),
           "worst": (min if h.higher_is_better else max)(values),
           "ratio": None if None in ratios else statistics.mean(ratios)}
    if kind == "lm":
        out["mu_min"] = min(r["metrics"]["Model utility"]["unlearned"]
                            / r["metrics"]["Model utility"]["original"] for r in runs)
        out["bar_every_seed"] = all(_bench_lm.meets([r]) for r in runs)
    return out


def summary_line(s: dict[str, Any]) -> str:
    if "bar_every_seed" not in s:
        return (f"{json.dumps(s['setting'])} on seeds {s['seeds']}: {s['headline']} mean "
                f"{s['mean']:.2f}, worst {s['worst']:.2f}; time {_ratio(s['ratio'])} of "
                f"retraining (mean)")
    return (f"{json.dumps(s['setting'])} on seeds {s['seeds']}: forget quality worst "
            f"{s['worst']:.3g}, mean {s['mean']:.3g}; utility worst {s['mu_min']:.3f}x; "
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
    diverged: dict[int, list[int]] = {i: [] for i in range(len(grid))}
    for seed in seeds:
        # No noise floor: settings are judged against the oracle, and a people-small noise
        # floor costs more than the whole grid (measured: 36 min for seed 3's).
        trained = prepare(RunSpec(args.method, args.forget, args.scenario, seed,
                                  noise_floor=False), ws, progress=False)
        for i, s in enumerate(grid):
            try:
                r, _ = run(RunSpec(args.method, args.forget, args.scenario, seed,
                                   overrides={**base, **s}, use_preset=False,
                                   noise_floor=False), ws,
                           trained=trained, progress=False)
            except DivergedError:  # a setting past the cliff is a result, not a crash
                diverged[i].append(seed)
                print(f"seed {seed} {json.dumps(s)}: diverged", flush=True)
                continue
            runs[i].append(r)
            print(run_line(s, r), flush=True)
    print()
    for i, s in enumerate(grid):
        print(f"{json.dumps(s)}: diverged on seeds {diverged[i]}" if diverged[i] else
              summary_line(summary(s, runs[i])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
