"""``obliviate ...``: ``main(argv) -> int``, callable from tests (exit 2 on bad input).

Torch, transformers and the registries are imported only by the commands that need them, so
``--help`` and argument errors answer at once; a subcommand's ``--help`` fills in the names
of scenarios, methods and attacks (``_LazyHelp``), which does import them.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from obliviate import cli_exact, cli_grid
from obliviate.cli_args import (
    HOME_HELP,
    STORE_HELP,
    data_arguments,
    default_home,
    run_spec,
    seed_arg,
    threads,
    unlearning_arguments,
)
from obliviate.errors import ObliviateError
from obliviate.workspace import Workspace

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


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="obliviate", description="Machine unlearning, measured against the "
                "model retrained without the forget set.")
    p.add_argument("--home", type=Path, default=None, help=HOME_HELP)
    p.add_argument("--store", default=None, help=STORE_HELP)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    # --home, --store and --quiet are also accepted after the command (`obliviate runs
    # --home DIR`); SUPPRESS keeps the subcommand from resetting one given before it.
    after = _Parser(add_help=False)
    after.add_argument("--home", type=Path, default=argparse.SUPPRESS, help=HOME_HELP)
    after.add_argument("--store", default=argparse.SUPPRESS, help=STORE_HELP)
    after.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="no progress bars")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[after], help=text, description=text,
                              formatter_class=_LazyHelp)

    r = command("run", "unlearn a forget set and evaluate against the oracle")
    unlearning_arguments(r)
    r.add_argument("--attack", default=None, metavar="A,B",
                   help="add attacks to the evaluation: {attacks} or all")
    r.add_argument("--attack-set", nargs="+", default=[], metavar="ATTACK.KEY=VALUE",
                   help="override attack config fields, e.g. --attack-set relearn.steps=20")

    q = command("sequence", "forget a set in several deletion requests, evaluating after each")
    unlearning_arguments(q)
    q.add_argument("--requests", type=int, default=4, help="number of requests (default 4)")

    cli_exact.add_command(command)
    sp = command("split", "which source rows are training, test and holdout rows (so an "
                 "indices:FILE forget set names training rows)")
    data_arguments(sp)
    sp.add_argument("--rows", default=None, choices=("train", "test", "holdout"),
                    help="print only this split's row numbers, one per line")

    cli_grid.add_command(command)
    command("list", "scenarios, methods and metrics")
    s = command("show-config", "a method's config with its defaults")
    s.add_argument("method")
    s.add_argument("--scenario", default=None, help="also show this scenario's preset")

    d = command("demo", "every method on digits and on the small people corpus")
    d.add_argument("--seed", type=seed_arg, default=0)
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
    n_threads = threads()  # checked for every command: a bad value is wrong everywhere
    if args.command in ("run", "sequence", "demo", "grid", "exact"):  # the commands that compute
        import torch

        torch.set_num_threads(n_threads)
    if args.command == "run":
        from obliviate.runner import run
        from obliviate.views.tables import attack_table, run_table

        record, path = run(run_spec(args), ws, progress=not args.quiet)
        if not args.json:
            print(f"config: {record['method']['config_source']}")
        print(json.dumps(record, indent=1) if args.json else run_table(record))
        if not args.json:
            if "guarantee" in record:  # a method trained with --train (guaranteed/adapter.py)
                from obliviate.guaranteed.run import summary

                print(summary(record))
            if "attacks" in record:
                print(attack_table(record))
            print(f"record: {path}")
        return 0
    if args.command == "sequence":
        from obliviate.sequential import sequential
        from obliviate.views.tables import sequence_table

        records = sequential(run_spec(args), ws, args.requests, progress=not args.quiet)
        print(json.dumps(records, indent=1) if args.json else sequence_table(records))
        return 0
    if args.command == "grid":
        return cli_grid.run(args, ws)
    if args.command == "exact":
        return cli_exact.run(args, ws)
    if args.command in ("serve", "worker", "deploy", "audit", "ledger"):
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
