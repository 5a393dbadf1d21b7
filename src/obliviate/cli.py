"""``obliviate ...``: ``main(argv) -> int``, callable from tests (exit 2 on bad input).

Torch, transformers and the registries are imported only by the commands that need them, so
``--help`` and argument errors answer at once; a subcommand's ``--help`` fills in the names
of scenarios, methods and attacks (``_LazyHelp``), which does import them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from obliviate.config import parse_assignments
from obliviate.errors import ObliviateError
from obliviate.workspace import Workspace

if TYPE_CHECKING:
    from obliviate.runner import RunSpec

log = logging.getLogger("obliviate")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (argparse prints usage too)
        self.exit(2, f"obliviate: error: {message}\n")


class _LazyHelp(argparse.HelpFormatter):
    """Fills ``{scenarios}``, ``{selectors}``, ``{methods}`` and ``{attacks}`` in a help
    text when a subcommand's help is shown (``cli_views.fill_names``), not when the parser is
    built."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help
        if text and "{" in text:
            from obliviate.cli_views import fill_names

            text = fill_names(text)
        return text


class _Stderr(logging.StreamHandler):
    """Writes to ``sys.stderr`` as it is when a message is logged: ``main`` runs many times
    in one process (tests), each with its own stderr, and a closed one must not be kept."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _seed(text: str) -> int:
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= seed < 2**32:
        raise argparse.ArgumentTypeError(f"seed {seed} must be in [0, 2**32)")
    return seed


def _at_least(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= ``low``."""
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if n < low:
            raise argparse.ArgumentTypeError(f"{n} must be at least {low}")
        return n
    return parse


def _threads() -> int:
    raw = os.environ.get("OBLIVIATE_THREADS", "1")
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ObliviateError(f"OBLIVIATE_THREADS={raw!r} must be a whole number >= 1")
    return n


def default_home() -> Path:
    return Path(os.environ.get("OBLIVIATE_HOME", Path.home() / ".obliviate"))


def _data_arguments(r: argparse.ArgumentParser) -> None:
    """Which data, and how it is split: what ``run``, ``sequence`` and ``split`` share."""
    r.add_argument("--scenario", default=None, help="one of {scenarios} (default: digits, or "
                   "the --task's own)")
    r.add_argument("--task", default=None, metavar="KIND",
                   help="the kind of model your --data is for: classification (default), "
                        "lm, graph; picks that kind's bundled scenario (obliviate list)")
    r.add_argument("--data", default=None, help="your own .npz (X, y) or .csv instead; with "
                   "--task graph, a directory holding nodes.csv and edges.csv")
    r.add_argument("--label", default=None, help="label column of a CSV --data file")
    given = r.add_mutually_exclusive_group()
    given.add_argument("--split-column", default=None, metavar="COLUMN",
                       help="a CSV --data column saying each row's split: train, test or "
                            "holdout (default: a seeded 70/20/10 split)")
    given.add_argument("--test", default=None, metavar="FILE",
                       help="the --data rows (as for indices:FILE) that form the test split; "
                            "every other row trains, and the holdout split is empty")


def _unlearning_arguments(r: argparse.ArgumentParser) -> None:
    """What ``run`` and ``sequence`` share: the data, forget set, method and its config."""
    _data_arguments(r)
    r.add_argument("--model", default=None, help="mlp or cnn (default: the scenario's); for "
                   "people scenarios, a local Hugging Face model directory to fine-tune")
    r.add_argument("--forget", required=True, help="{selectors}")
    r.add_argument("--method", required=True, help="one of {methods}")
    r.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                   help="override method config fields, e.g. --set lr=0.01 epochs=3")
    r.add_argument("--seed", type=_seed, default=0)
    r.add_argument("--no-preset", action="store_true",
                   help="use the paper's defaults, not the scenario's preset")
    r.add_argument("--lora", action="store_true",
                   help="language models: unlearn through a LoRA adapter (PEFT), then merge it")
    r.add_argument("--no-noise-floor", action="store_true",
                   help="skip the independent exact retrain that measures how close to the "
                        "oracle exact unlearning lands (saves one training)")
    r.add_argument("--json", action="store_true", help="print the record instead of a table")


def _spec(args: argparse.Namespace) -> RunSpec:
    from obliviate.kinds import scenario_name
    from obliviate.runner import RunSpec

    return RunSpec(method=args.method, forget=args.forget,
                   scenario=scenario_name(args.scenario, args.task),
                   seed=args.seed, overrides=parse_assignments(args.set),
                   model=args.model, data=args.data, label=args.label,
                   split_column=args.split_column, test=args.test,
                   use_preset=not args.no_preset, lora=args.lora,
                   attacks=tuple(args.attack.split(",")) if getattr(args, "attack", None)
                   else (),
                   attack_overrides=_dotted(getattr(args, "attack_set", []), "--attack-set",
                                            "ATTACK", "relearn.steps=20"),
                   noise_floor=not args.no_noise_floor)


def _dotted(items: list[str], flag: str, owner: str, example: str,
            ) -> dict[str, dict[str, object]]:
    """``relearn.steps=20`` -> {"relearn": {"steps": 20}} (values parsed as for ``--set``):
    ``--attack-set`` of ``run``, ``--set`` of ``grid``."""
    out: dict[str, dict[str, object]] = {}
    for item in items:
        name, dot, rest = item.partition(".")
        if not dot or not rest:
            raise ObliviateError(f"{flag} {item!r}: expected {owner}.KEY=VALUE, e.g. "
                                 f"{example}")
        out.setdefault(name, {}).update(parse_assignments([rest]))
    return out


_HOME_HELP = "cache, records and store directory (default $OBLIVIATE_HOME or ~/.obliviate)"
_STORE_HELP = "SQLAlchemy URL of the run store (default: sqlite file in --home)"


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="obliviate", description="Machine unlearning, measured against the "
                "model retrained without the forget set.")
    p.add_argument("--home", type=Path, default=None, help=_HOME_HELP)
    p.add_argument("--store", default=None, help=_STORE_HELP)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    # --home, --store and --quiet are also accepted after the command (`obliviate runs
    # --home DIR`); SUPPRESS keeps the subcommand from resetting one given before it.
    after = _Parser(add_help=False)
    after.add_argument("--home", type=Path, default=argparse.SUPPRESS, help=_HOME_HELP)
    after.add_argument("--store", default=argparse.SUPPRESS, help=_STORE_HELP)
    after.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="no progress bars")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[after], help=text, description=text,
                              formatter_class=_LazyHelp)

    r = command("run", "unlearn a forget set and evaluate against the oracle")
    _unlearning_arguments(r)
    r.add_argument("--attack", default=None, metavar="A,B",
                   help="add attacks to the evaluation: {attacks} or all")
    r.add_argument("--attack-set", nargs="+", default=[], metavar="ATTACK.KEY=VALUE",
                   help="override attack config fields, e.g. --attack-set relearn.steps=20")

    q = command("sequence", "forget a set in several deletion requests, evaluating after each")
    _unlearning_arguments(q)
    q.add_argument("--requests", type=int, default=4, help="number of requests (default 4)")

    ex = command("exact", "deletion with a guarantee: train acu, sisa, s3t or certified on the "
                 "training rows, delete the forget set request by request, record the "
                 "guarantee and its evidence")
    _data_arguments(ex)
    ex.add_argument("--method", required=True, choices=("acu", "sisa", "s3t", "certified"),
                    help="acu (exact, closed-form head), sisa (exact, sharded ensemble), "
                         "s3t (exact, sharded stacks of low-rank layers, deactivated on "
                         "deletion), "
                         "certified ((epsilon, delta)-certified logistic regression)")
    ex.add_argument("--forget", required=True, help="{selectors}")
    ex.add_argument("--model", default=None, help="sisa's shard model: mlp or cnn "
                    "(default: the scenario's)")
    ex.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                    help="override config fields, e.g. --set shards=5 slices=4")
    ex.add_argument("--requests", type=int, default=1,
                    help="delete the forget set in this many sequential requests (default 1)")
    ex.add_argument("--seed", type=_seed, default=0)
    ex.add_argument("--no-verify", action="store_true",
                    help="skip training the method from scratch on the retained rows (the "
                         "exactness check and the speed-up)")
    ex.add_argument("--json", action="store_true", help="print the record instead")

    sp = command("split", "which source rows are training, test and holdout rows (so an "
                 "indices:FILE forget set names training rows)")
    _data_arguments(sp)
    sp.add_argument("--rows", default=None, choices=("train", "test", "holdout"),
                    help="print only this split's row numbers, one per line")

    g = command("grid", "every method on every scenario, forget set and seed: skips the "
                "cells already in the store, then prints a leaderboard per scenario")
    g.add_argument("--scenarios", required=True, metavar="A,B", help="of {scenarios}")
    g.add_argument("--methods", required=True, metavar="M1,M2", help="of {methods}")
    g.add_argument("--seeds", default="0", metavar="0,1,2", help="default 0")
    g.add_argument("--forget", nargs="+", default=None, metavar="SELECTOR",
                   help="forget sets, each run on every scenario (default: the demo's "
                        "forget sets of each scenario): {selectors}")
    g.add_argument("--jobs", type=_at_least(1), default=None, help="worker processes (default: one "
                   "per core, at most one per cell; 1 runs every cell in this process)")
    g.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="fan the cells out on the Ray cluster at ADDRESS (auto, "
                        "ray://HOST:10001, ...) or on a new local instance (local); needs "
                        "pip install 'obliviate[ray]'")
    g.add_argument("--retries", type=_at_least(0), default=1,
                   help="times a cell is retried when its worker process dies (default 1)")
    g.add_argument("--set", nargs="+", default=[], metavar="METHOD.KEY=VALUE",
                   help="override a method's config fields, e.g. --set ga.lr=0.01")
    g.add_argument("--no-preset", action="store_true",
                   help="use the paper's defaults, not the scenarios' presets")
    g.add_argument("--no-noise-floor", action="store_true",
                   help="skip the independent exact retrain of each cell's scenario and seed")

    command("list", "scenarios, methods and metrics")
    s = command("show-config", "a method's config with its defaults")
    s.add_argument("method")
    s.add_argument("--scenario", default=None, help="also show this scenario's preset")

    d = command("demo", "every method on digits and on the small people corpus")
    d.add_argument("--seed", type=_seed, default=0)
    d.add_argument("--methods", default=None, help="comma-separated subset of methods")
    d.add_argument("--task", default=None, choices=("classification", "causal_lm"),
                   help="only the sections of this task (default: all)")
    command("runs", "runs indexed in the store")
    rep = command("report", "one self-contained HTML report of runs")
    rep.add_argument("runs", nargs="+", metavar="RUNS",
                     help="record JSON files, directories of records, or run ids")
    rep.add_argument("-o", "--output", required=True, type=Path, help="the HTML file to write")
    db = command("dashboard", "compare two runs in the browser (Unlearning Comparator); "
                 "reads the store's records and feature sidecars")
    db.add_argument("--port", type=int, default=8765, help="port on localhost (0: a free one)")
    from obliviate.service.commands import add_commands

    add_commands(command)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:  # --help, or a usage error already printed on one line
        return int(e.code or 0)
    if not log.handlers:
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("obliviate: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    ws = Workspace(args.home or default_home(), args.store)
    try:
        return _dispatch(args, ws)
    except ObliviateError as e:
        print(f"obliviate: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        # A path the code did not check itself (each place that opens a user path should
        # say which path it is): still one line naming the file, not a traceback.
        if e.filename is None:
            raise
        print(f"obliviate: error: {str(e.filename)!r}: {e.strerror or e}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace, ws: Workspace) -> int:
    threads = _threads()  # checked for every command: a bad value is wrong everywhere
    if args.command in ("run", "sequence", "demo", "grid", "exact"):  # the commands that compute
        import torch

        torch.set_num_threads(threads)
    if args.command == "run":
        from obliviate.runner import run
        from obliviate.views.tables import attack_table, run_table

        record, path = run(_spec(args), ws, progress=not args.quiet)
        if not args.json:
            print(f"config: {record['method']['config_source']}")
        print(json.dumps(record, indent=1) if args.json else run_table(record))
        if not args.json:
            if "attacks" in record:
                print(attack_table(record))
            print(f"record: {path}")
        return 0
    if args.command == "sequence":
        from obliviate.sequential import sequential
        from obliviate.views.tables import sequence_table

        records = sequential(_spec(args), ws, args.requests, progress=not args.quiet)
        print(json.dumps(records, indent=1) if args.json else sequence_table(records))
        return 0
    if args.command == "grid":
        return _grid(args, ws)
    if args.command == "exact":
        from obliviate.guaranteed.run import run_exact, summary
        from obliviate.kinds import scenario_name
        from obliviate.runner import RunSpec, build

        exp = build(RunSpec(method=args.method, forget=args.forget,
                            scenario=scenario_name(args.scenario, args.task), seed=args.seed,
                            model=args.model, data=args.data, label=args.label,
                            split_column=args.split_column, test=args.test))
        record, path = run_exact(args.method, exp, parse_assignments(args.set),
                                 requests=args.requests, home=ws.home,
                                 verify=not args.no_verify, progress=not args.quiet)
        print(json.dumps(record, indent=1) if args.json else summary(record))
        if not args.json:
            print(f"record: {path}")
        return 0
    if args.command in ("serve", "worker", "deploy", "audit"):
        from obliviate.service.commands import dispatch

        return dispatch(args, ws.home)
    if args.command == "split":
        from obliviate.cli_views import split_listing

        print(split_listing(args))
        return 0
    if args.command == "list":
        from obliviate.cli_views import listing

        print(listing())
        return 0
    if args.command == "show-config":
        from obliviate.config import config_dict
        from obliviate.methods import get_method
        from obliviate.presets import preset_for
        from obliviate.scenarios import get_scenario

        m = get_method(args.method)
        print(f"{m.name}: {m.paper}")
        for k, v in config_dict(m.config()).items():
            print(f"  {k} = {v!r}")
        if args.scenario:
            get_scenario(args.scenario)  # an unknown name is an error, not "no preset"
            print(f"preset for {args.scenario}: {preset_for(args.scenario, m.name) or 'none'}")
        return 0
    if args.command == "runs":
        for r in ws.store().list():
            gap = "—" if r["avg_gap"] is None else f"{r['avg_gap']:.2f}"
            print(f"{r['run_id']}  {r['scenario']}  {r['forget']}  {r['method']}  "
                  f"seed {r['seed']}  Avg.Gap {gap}")
        return 0
    if args.command == "demo":
        from obliviate.demo import demo
        methods = args.methods.split(",") if args.methods else None
        return demo(ws, seed=args.seed, methods=methods, task=args.task, progress=not args.quiet)
    if args.command == "dashboard":
        from obliviate.views.dashboard import serve
        return serve(ws.store(), port=args.port)
    if args.command == "report":
        from obliviate.views.report import write_report
        out = write_report(args.runs, args.output, runs_dir=ws.runs_dir,
                           store_paths=lambda: _store_paths(ws))
        print(f"report: {out}")
        return 0
    raise AssertionError(args.command)  # argparse only lets known commands through


def _grid(args: argparse.Namespace, ws: Workspace) -> int:
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
        overrides=_dotted(args.set, "--set", "METHOD", "ga.lr=0.01"))
    result = run_grid(cells, references, ws, jobs=args.jobs, ray=args.ray,
                      retries=args.retries, progress=not args.quiet)
    print(grid_tables(result.groups()))
    print(result.summary())
    for i, why in result.failed.items():
        print(f"  failed: {cells[i].label}: {why}")
    return 0 if result.ok else 1


def _store_paths(ws: Workspace) -> dict[str, str]:
    """Run id to record path, from the store if there is one (a report creates none)."""
    if ws.store_url is None:
        try:
            if not (ws.home / "runs.sqlite").is_file():
                return {}
        except OSError as e:  # a --home name too long, ...
            raise ObliviateError(f"cannot read home directory {str(ws.home)!r}: "
                                 f"{e.strerror or e}") from None
    return {r["run_id"]: r["path"] for r in ws.store().list()}


def run_main() -> None:
    sys.exit(main())
