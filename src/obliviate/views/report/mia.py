"""One run's membership-inference block: per role, member vs non-member score histograms,
their ROC curves, and a table of the AUCs.

Classifiers score confidence on forget vs test samples, language models Min-K% on forget vs
holdout biographies; a ``MiaView`` names what each kind's scores are, the block is the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from obliviate.storage import sidecar as sc
from obliviate.views.report import page, svg
from obliviate.views.report.load import Run
from obliviate.views.report.overview import run_title
from obliviate.views.report.stats import roc


@dataclass(frozen=True)
class MiaView:
    """How one kind of run's membership scores are read from its sidecar and labelled."""

    kind: str  # the block's data-mia attribute
    key: Callable[[str, str], str]  # sidecar key of (role, "forget" or ``nonmembers``)
    nonmembers: str  # the split the forget set is told apart from: "test" or "holdout"
    score: str  # x label of the histograms
    scores_title: str  # a histogram's title is "{role} {scores_title}"
    per_role: str  # a histogram's caption is "{role}: {per_role}"
    roc_note: str  # the ROC figure's caption
    bins: int
    x_range: tuple[float, float] | None


def mia_block(r: Run, view: MiaView) -> str:
    """Histograms and ROC curves of ``r``'s forget (members) vs non-member scores, per role."""
    a = r.arrays()
    other = view.nonmembers
    figures, curves, rows = [], [], []
    for role in sc.ROLES:
        f, n = a[view.key(role, "forget")], a[view.key(role, other)]
        figures.append(page.figure(svg.histograms(
            [("forget", "forget", f), (other, other, n)], view.score,
            title=f"{role} {view.scores_title}", bins=view.bins, x_range=view.x_range),
            f"{role}: {view.per_role}"))
        fpr, tpr, auc = roc(f, n)
        curves.append((f"{role} AUC {auc:.3f}", role, fpr, tpr))
        rows.append(page.row([page.text_cell(role), page.num(auc, 4, role=role, auc="1"),
                              page.num(len(f), 0), page.num(len(n), 0)], role=role))
    roc_fig = page.figure(
        svg.lines(curves, f"false positive rate ({other})", "true positive rate (forget)",
                  title=f"ROC forget vs {other}", diagonal=True),
        view.roc_note)
    auc_table = page.table(["model", f"ROC AUC forget vs {other}", "forget n", f"{other} n"],
                           rows, name=f"mia {r.run_id}")
    return (f"<h3>{page.esc(run_title(r))}</h3>"
            f'<div data-run="{page.esc(r.run_id)}" data-mia="{view.kind}">'
            + page.charts([auc_table, roc_fig]) + page.charts(figures) + "</div>")
