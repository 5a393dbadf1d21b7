"""``obliviate grid``: its arguments and what it runs (``obliviate.grid`` does the work)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from obliviate.cli_args import at_least, dotted
from obliviate.errors import ObliviateError
from obliviate.workspace import Workspace


def add_command(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    g = command("grid", "every method on every scenario, forget set and seed: skips the "
                "cells already in the store, then prints a leaderboard per scenario")
    g.add_argument("--scenarios", required=True, metavar="A,B", help="of {scenarios}")
    g.add_argument("--methods", required=True, metavar="M1,M2", help="of {methods}")
    g.add_argument("--seeds", default="0", metavar="0,1,2", help="default 0")
    g.add_argument("--forget", nargs="+", default=None, metavar="SELECTOR",
                   help="forget sets, each run on every scenario (default: the demo's "
                        "forget sets of each scenario): {selectors}")
    g.add_argument("--jobs", type=at_least(1), default=None, help="worker processes (default: one "
                   "per core, at most one per cell; 1 runs every cell in this process)")
    g.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="fan the cells out on the Ray cluster at ADDRESS (auto, "
                        "ray://HOST:10001, ...) or on a new local instance (local); needs "
                        "pip install 'obliviate[ray]'")
    g.add_argument("--retries", type=at_least(0), default=1,
                   help="times a cell is retried when its worker process dies (default 1)")
    g.add_argument("--set", nargs="+", default=[], metavar="METHOD.KEY=VALUE",
                   help="override a method's config fields, e.g. --set ga.lr=0.01")
    g.add_argument("--no-preset", action="store_true",
                   help="use the paper's defaults, not the scenarios' presets")
    g.add_argument("--no-noise-floor", action="store_true",
                   help="skip the independent exact retrain of each cell's scenario and seed")


def run(args: argparse.Namespace, ws: Workspace) -> int:
    """``obliviate grid``: exit 0 when every cell has its record, 1 when some failed."""
    from obliviate.demo import SECTIONS
    from obliviate.grid import expand, parse_seeds, run_grid
    from obliviate.grid.cells import names
    from obliviate.views.tables import grid_tables

    scenarios = names(args.scenarios, "--scenarios")
    forgets: dict[str, list[str]] = {}
    for s in scenarios:
        forgets[s] = args.forget or [f for name, f, _, _ in SECTIONS if name == s]
        if not forgets[s]:
            from obliviate.scenarios import get_scenario

            get_scenario(s)  # an unknown name says so, rather than asking for --forget
            raise ObliviateError(f"scenario {s!r} has no default forget set: give --forget")
    cells, references = expand(
        scenarios, names(args.methods, "--methods"), parse_seeds(args.seeds), forgets,
        use_preset=not args.no_preset, noise_floor=not args.no_noise_floor,
        overrides=dotted(args.set, "--set", "METHOD", "ga.lr=0.01"))
    result = run_grid(cells, references, ws, jobs=args.jobs, ray=args.ray,
                      retries=args.retries, progress=not args.quiet)
    print(grid_tables(result.groups()))
    print(result.summary())
    for i, why in result.failed.items():
        print(f"  failed: {cells[i].label}: {why}")
    return 0 if result.ok else 1
