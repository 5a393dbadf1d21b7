"""The arguments several ``obliviate`` commands share, and their argparse types: the data and
its split, the forget set and method, seeds, dotted ``KEY=VALUE`` overrides, the home
directory. Torch-free, so ``--help`` and argument errors answer at once."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from obliviate.config import parse_assignments
from obliviate.errors import ObliviateError

if TYPE_CHECKING:
    from obliviate.runner import RunSpec


def seed_arg(text: str) -> int:
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= seed < 2**32:
        raise argparse.ArgumentTypeError(f"seed {seed} must be in [0, 2**32)")
    return seed


def at_least(low: int) -> Callable[[str], int]:
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


def threads() -> int:
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


def data_arguments(r: argparse.ArgumentParser) -> None:
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


def unlearning_arguments(r: argparse.ArgumentParser) -> None:
    """What ``run`` and ``sequence`` share: the data, forget set, method and its config."""
    data_arguments(r)
    r.add_argument("--model", default=None, help="mlp or cnn (default: the scenario's); for "
                   "people scenarios, a local Hugging Face model directory to fine-tune")
    r.add_argument("--forget", required=True, help="{selectors}")
    r.add_argument("--method", required=True, help="one of {methods}")
    r.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                   help="override method config fields, e.g. --set lr=0.01 epochs=3")
    r.add_argument("--seed", type=seed_arg, default=0)
    r.add_argument("--no-preset", action="store_true",
                   help="use the paper's defaults, not the scenario's preset")
    r.add_argument("--lora", action="store_true",
                   help="language models: unlearn through a LoRA adapter (PEFT), then merge it")
    r.add_argument("--no-noise-floor", action="store_true",
                   help="skip the independent exact retrain that measures how close to the "
                        "oracle exact unlearning lands (saves one training)")
    r.add_argument("--train", default=None, metavar="NAME:KEY=VALUE,...",
                   help="train the original for guaranteed deletion (sisa, s3t, acu, "
                        "certified), e.g. sisa:shards=5,slices=4 with --method sisa")
    r.add_argument("--json", action="store_true", help="print the record instead of a table")


def run_spec(args: argparse.Namespace) -> RunSpec:
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
                   attack_overrides=dotted(getattr(args, "attack_set", []), "--attack-set",
                                            "ATTACK", "relearn.steps=20"),
                   noise_floor=not args.no_noise_floor, train=getattr(args, "train", None))


def dotted(items: list[str], flag: str, owner: str, example: str,
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


HOME_HELP = "cache, records and store directory (default $OBLIVIATE_HOME or ~/.obliviate)"
STORE_HELP = "SQLAlchemy URL of the run store (default: sqlite file in --home)"
