"""Language-model unlearning on the people corpus, 3 seeds, mean ± std.

    python benchmarks/lm.py [--scenario people] [--forget people:0.1] [--seeds 0,1,2]
                            [--methods a,b] [--home DIR] [--jobs N]

Every method that supports causal LMs: forget quality (TOFU), model utility, exact match,
PrivLeak, time / retraining time, all measured in one run. Ends with the issue's bars: a
method with forget quality >= 0.05 at model utility >= 0.9 x the original's; and the cost of
the evaluation, as forward passes made over forward passes needed (<= 1.5).

The runs are one grid (``obliviate.grid``): with ``--home``, a benchmark that was stopped
resumes, skipping the cells whose record is there, and a method that fails is reported
without costing the others their run. ``--jobs 1`` (the default) runs the cells one after
the other in this process, so that times are measured as ``obliviate run`` measures them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from obliviate.errors import ObliviateError
from obliviate.grid import cell_teller, expand, parse_seeds, run_grid
from obliviate.methods import METHODS
from obliviate.presets import check_held_out
from obliviate.runner import Workspace
from obliviate.storage.records import read_record
from obliviate.views.tables import leaderboard


def meets(rs: list[dict[str, Any]]) -> bool:
    """The issue's bar on the mean of ``rs``: forget quality >= 0.05 at model utility >= 0.9 x
    the original's (one record: that run alone). ``sweep.py`` judges its settings by it too."""
    def mean(key: str, role: str = "unlearned") -> float:
        return statistics.mean(r["metrics"][key][role] for r in rs)

    return (mean("Forget quality") >= 0.05
            and mean("Model utility") >= 0.9 * mean("Model utility", "original"))


def bar_lines(records: list[dict[str, Any]]) -> list[str]:
    by: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by.setdefault(r["method"]["name"], []).append(r)

    on_mean = [m for m, rs in by.items() if m != "retrain" and meets(rs)]
    every = [m for m, rs in by.items() if m != "retrain" and all(meets([r]) for r in rs)]
    ratios = [p["ratio"] for r in records for p in r["lm"]["eval_passes"].values()]
    return [f"forget quality >= 0.05 at model utility >= 0.9 x original's, on the mean of the "
            f"seeds: {'MET by ' + ', '.join(on_mean) if on_mean else 'NOT MET'}; on every seed: "
            f"{'MET by ' + ', '.join(every) if every else 'NOT MET'}",
            f"evaluation forward passes / passes needed: mean {statistics.mean(ratios):.3f}, "
            f"max {max(ratios):.3f} over {len(ratios)} model evaluations (bar: <= 1.5)",
            f"forget questions per run: {records[0]['lm']['forget_questions']}"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="people")
    p.add_argument("--forget", default="people:0.1")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--methods", default=",".join(
        m.name for m in METHODS.values() if "causal_lm" in m.tasks))
    p.add_argument("--home", type=Path, default=None, help="default: a temporary directory")
    p.add_argument("--report-only", action="store_true",
                   help="only print the table of the records already in --home (e.g. after "
                        "running one process per seed with the same --home)")
    p.add_argument("--jobs", type=int, default=1, help="cells run at once (default 1)")
    args = p.parse_args(argv)
    if args.report_only:
        if args.home is None:
            p.error("--report-only needs --home")
        found = [read_record(f) for f in sorted((args.home / "runs").glob("*.json"))]
        mine = [r for r in found if r["scenario"]["name"] == args.scenario
                and r["scenario"]["forget"] == args.forget]
        report(args, mine)
        return 0
    torch.set_num_threads(1)
    ws = Workspace(args.home or Path(tempfile.mkdtemp(prefix="obliviate-lm-")))
    methods = args.methods.split(",")
    seeds = parse_seeds(args.seeds)
    check_held_out(args.scenario, methods, seeds, args.forget)
    cells, references = expand([args.scenario], methods, seeds, {args.scenario: [args.forget]})

    tell = cell_teller("Forget quality", "FQ", ".4f", where=())
    grid = run_grid(cells, references, ws, jobs=args.jobs, progress=False, on_cell=tell)
    records = [r for _, rs in grid.groups() for r in rs]
    report(args, records)
    return 0 if grid.ok else 1


def report(args: argparse.Namespace, records: list[dict[str, Any]]) -> None:
    seeds = sorted({r["scenario"]["seed"] for r in records})
    check_held_out(args.scenario, sorted({r["method"]["name"] for r in records}), seeds,
                   args.forget)
    print(f"### {args.scenario} · forget {args.forget}; seeds {seeds}, mean ± std\n\n"
          f"```\n{leaderboard(records)}\n```\n")
    print("\n".join(f"- {line}" for line in bar_lines(records)))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ObliviateError as e:  # e.g. a seed a preset was chosen on: one line, exit 2
        print(f"{Path(__file__).name}: error: {e}", file=sys.stderr)
        sys.exit(2)
