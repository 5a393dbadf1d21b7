"""``obliviate exact``: deletion with a guarantee (``obliviate.guaranteed``), its arguments
and what it runs."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from obliviate.cli_args import data_arguments, seed_arg
from obliviate.config import parse_assignments
from obliviate.workspace import Workspace


def add_command(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    ex = command("exact", "deletion with a guarantee: train acu, sisa, s3t or certified on the "
                 "training rows, delete the forget set request by request, and record it as "
                 "a run (beside the oracle) with the guarantee and its evidence; the same as "
                 "obliviate run --train NAME:... --method NAME --set requests=N")
    data_arguments(ex)
    ex.add_argument("--method", required=True, choices=("acu", "sisa", "s3t", "certified"),
                    # dp2u is trained and fine-tuned, not deleted from: obliviate run --train dp2u
                    help="acu (exact, closed-form head), sisa (exact, sharded ensemble), "
                         "s3t (exact, sharded stacks of low-rank layers, deactivated on "
                         "deletion), "
                         "certified ((epsilon, delta)-certified logistic regression)")
    ex.add_argument("--forget", required=True, help="{selectors}")
    ex.add_argument("--model", default=None, help="mlp or cnn (default: the scenario's): "
                    "sisa's shard model and the oracle's architecture")
    ex.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                    help="override config fields, e.g. --set shards=5 slices=4")
    ex.add_argument("--requests", type=int, default=1,
                    help="delete the forget set in this many sequential requests (default 1)")
    ex.add_argument("--seed", type=seed_arg, default=0)
    ex.add_argument("--no-verify", action="store_true",
                    help="skip training the method from scratch on the retained rows (the "
                         "exactness check and the speed-up)")
    ex.add_argument("--no-noise-floor", action="store_true",
                    help="skip the independent retrain (the noise floor) beside the oracle")
    ex.add_argument("--json", action="store_true", help="print the record instead")


def run(args: argparse.Namespace, ws: Workspace) -> int:
    from obliviate.guaranteed.run import run_exact, summary
    from obliviate.kinds import scenario_name
    from obliviate.runner import RunSpec
    from obliviate.views.tables import run_table

    spec = RunSpec(method=args.method, forget=args.forget,
                   scenario=scenario_name(args.scenario, args.task), seed=args.seed,
                   model=args.model, data=args.data, label=args.label,
                   split_column=args.split_column, test=args.test,
                   noise_floor=not args.no_noise_floor)
    record, path = run_exact(args.method, spec, parse_assignments(args.set),
                             requests=args.requests, ws=ws, verify=not args.no_verify,
                             progress=not args.quiet)
    if args.json:
        print(json.dumps(record, indent=1))
        return 0
    print(run_table(record))
    print(summary(record))
    print(f"record: {path}")
    return 0
