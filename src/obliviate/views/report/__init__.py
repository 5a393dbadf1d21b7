"""``obliviate report``: one self-contained HTML file from run records and their sidecars.

Inline CSS and inline SVG only (nothing to fetch: it opens offline). Reads records and
feature sidecars, never a model: no torch, no method is imported here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from obliviate.errors import ObliviateError
from obliviate.storage.atomic import atomic_write
from obliviate.views.report import (
    classifier,
    graph,
    lm,
    overview,
    page,
    recommendation,
    regression,
)
from obliviate.views.report.load import Run, StorePaths, load_runs

__all__ = ["SECTIONS", "Run", "build_report", "load_runs", "write_report"]

SECTIONS = ("leaderboard", "tradeoff", "per-class", "mia", "attacks", "efficiency",
            "lm-tradeoff", "truth-ratio", "examples", "regression-tradeoff", "predictions",
            "links")


def build_report(runs: Sequence[Run], title: str = "obliviate report") -> str:
    """The HTML text of the report: every section of ``SECTIONS``, in that order."""
    if not runs:
        raise ObliviateError("no runs to report")
    mia_body = (classifier.mia_blocks(runs) + lm.mia_blocks(runs) + regression.mia_blocks(runs)
                + recommendation.mia_blocks(runs))
    mia = page.section("mia", "Membership inference: score distributions and ROC curves",
                       page.note("Can an attacker tell the forget set from data the model never "
                                 "saw? Classifiers: confidence on forget vs test samples; "
                                 "language models: Min-K% on forget vs holdout biographies; "
                                 "regression: the loss on forget vs test samples; "
                                 "recommenders: item confidence on forgotten vs held-out "
                                 "interactions. AUC 0.5 is chance; the oracle's AUC is the "
                                 "target.")
                       + "".join(mia_body))
    sections = [overview.leaderboard_section(runs), classifier.tradeoff_section(runs),
                classifier.per_class_section(runs), mia, overview.attacks_section(runs),
                overview.efficiency_section(runs), lm.tradeoff_section(runs),
                lm.truth_ratio_section(runs), lm.examples_section(runs),
                regression.tradeoff_section(runs), regression.predictions_section(runs),
                graph.links_section(runs)]
    kinds = sorted({r.kind for r in runs})
    intro = page.note(f"{len(runs)} run(s) ({', '.join(kinds)}), generated "
                      f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC from run records "
                      "and their feature sidecars.")
    runs_list = "".join(
        f'<li data-run="{page.esc(r.run_id)}">{page.esc(r.run_id)} — {page.esc(r.method)}, '
        f"{page.esc(overview.group_title(r.group))}, seed "
        f"{page.esc(r.record['scenario']['seed'])}</li>" for r in runs)
    intro += f"<details><summary>runs</summary><ul>{runs_list}</ul></details>"
    return page.document(title, intro, sections)


def write_report(items: Sequence[str], output: str | Path, *, runs_dir: Path,
                 store_paths: StorePaths | None = None) -> Path:
    """Build the report of the runs ``items`` name and write it atomically to ``output``."""
    out = Path(output)
    try:
        is_dir, parent_is_dir = out.is_dir(), out.parent.is_dir()
    except OSError as e:  # a name too long, ...
        raise ObliviateError(f"cannot write report {str(out)!r}: {e.strerror or e}") from None
    if is_dir:
        raise ObliviateError(f"report output {str(out)!r} is a directory; name a file")
    if not parent_is_dir:
        raise ObliviateError(f"cannot write report {str(out)!r}: directory "
                             f"{str(out.parent)!r} does not exist")
    text = build_report(load_runs(items, runs_dir, store_paths))

    def dump(f: TextIO) -> None:
        f.write(text)

    try:
        atomic_write(out, dump)
    except OSError as e:
        raise ObliviateError(f"cannot write report {str(out)!r}: {e.strerror or e}") from None
    return out
