"""What the CLI shows that needs the registries (and so torch): the names in a subcommand's
``--help``, ``obliviate list`` and ``obliviate split``. ``cli`` imports this module only when
one of them is asked for, so ``obliviate --help`` and argument errors never wait for torch.
"""

from __future__ import annotations

import argparse
from typing import Any

from obliviate.attacks import ATTACKS
from obliviate.errors import ObliviateError
from obliviate.methods import METHODS, guaranteed_methods
from obliviate.metrics import METRICS
from obliviate.scenarios import SCENARIOS, SELECTORS, RegressionScenario, Scenario, scenario_for
from obliviate.views.tables import split_table


def fill_names(text: str) -> str:
    """``text`` with ``{scenarios}``, ``{selectors}``, ``{methods}`` and ``{attacks}``
    replaced by the registries' names (``%`` doubled: argparse formats help with ``%``)."""
    names = {"scenarios": ", ".join(SCENARIOS), "selectors": "; ".join(SELECTORS.values()),
             "methods": ", ".join(METHODS), "attacks": ", ".join(ATTACKS)}
    for key, value in names.items():
        text = text.replace("{" + key + "}", value.replace("%", "%%"))
    return text


def split_listing(args: argparse.Namespace) -> str:
    """``obliviate split``: the source rows of each split, or one split's rows (``--rows``)."""
    from obliviate.kinds import scenario_name

    scenario = scenario_for(scenario_name(args.scenario, args.task), args.data, args.label,
                            args.split_column, args.test)
    if not isinstance(scenario, (Scenario, RegressionScenario)):
        raise ObliviateError(f"{scenario.name!r} splits by person, not by row: forget people "
                             "with --forget ids:A,B (member ids) or people:F")
    pool: Any = scenario.load()  # a classifier's or a regression pool: rows are rows
    train, test, holdout, _ = scenario.split(pool)
    rows = {"train": pool.row[train], "test": pool.row[test], "holdout": pool.row[holdout]}
    if args.rows:
        return "\n".join(str(int(r)) for r in sorted(rows[args.rows]))
    return split_table(scenario.name, scenario.split_source, rows, pool.n_source_rows)


def listing() -> str:
    """``obliviate list``."""
    lines = ["scenarios:"]
    lines += [f"  {s.name:14s} {s.description}" for s in SCENARIOS.values()]
    lines.append("  (--data PATH)  your own .npz with X and y, or a CSV with --label COLUMN")
    lines.append("forget sets:")
    lines += [f"  {v}" for v in SELECTORS.values()]
    lines.append("methods:")
    lines += [f"  {m.name:12s} tasks: {', '.join(m.tasks):16s} {m.paper}"
              for m in METHODS.values()]
    lines.append("methods of a model trained for them (--train NAME[:KEY=VALUE,...]):")
    lines += [f"  {m.name:12s} tasks: {', '.join(m.tasks):16s} {m.paper}"
              for m in guaranteed_methods().values()]
    lines.append("attacks (--attack):")
    lines += [f"  {a.name:9s} {'/'.join(a.kinds):22s} {a.description} ({a.paper})"
              for a in ATTACKS.values()]
    lines.append("metrics (kind; unit; better; reference; departures from it):")
    for m in METRICS.values():
        better = ("the oracle's value" if m.oracle_is_target else
                  "higher" if m.higher_is_better else "lower")
        lines.append(f"  {m.name}{' [headline]' if m.headline else ''} "
                     f"({'/'.join(m.kinds)}; {m.unit}; {better} is better): {m.description}")
        lines.append(f"      reference: {m.reference}")
        lines += [f"      departs: {d}" for d in m.departures]
    return "\n".join(lines)
