"""Regression sections: forgetting vs utility, the forget set's predictions against its true
targets, and membership scores (forget vs test). Records and sidecars only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from obliviate.storage import sidecar as sc
from obliviate.views.report import page, svg
from obliviate.views.report.load import Run
from obliviate.views.report.mia import MiaView, mia_block
from obliviate.views.report.overview import group_title, groups, run_title, tradeoff_chart
from obliviate.views.report.stats import pareto_front

ROLES = sc.ROLES
_NONE = "No regression runs in this report."


def _regression(runs: Sequence[Run]) -> list[Run]:
    return [r for r in runs if r.kind == "regression"]


def _xy(metrics: dict[str, Any], role: str) -> tuple[float, float]:
    """A model on the trade-off chart: (|nMAE(D_f) - the oracle's|, nMAE(D_t))."""
    f = metrics["nMAE (D_f)"]
    return abs(f[role] - f["oracle"]), metrics["nMAE (D_t)"][role]


def tradeoff_section(runs: Sequence[Run]) -> str:
    runs = _regression(runs)
    body = [page.note(
        "Forgetting against utility, one point per run: x is how far the forget-set error "
        "(MAE in % of the training targets' standard deviation) is from the oracle's (0 = "
        "forgets as retraining does), y the test error in the same unit (lower is better). "
        "Squares are the oracle and the original; the dashed line joins the Pareto front.")]
    for key, rs in groups(runs):
        m = [r.record["metrics"] for r in rs]
        xy = [_xy(x, "unlearned") for x in m]
        front = pareto_front(xy, maximise_x=False, maximise_y=False)
        chart = tradeoff_chart(rs, xy, front, _xy, "|nMAE forget − oracle's| (points)",
                               "nMAE test (%)", title=f"forgetting vs utility, {group_title(key)}")
        rows = [page.row([page.text_cell(r.method), page.num(r.record["scenario"]["seed"], 0),
                          page.num(x["nMAE (D_f)"]["unlearned"], 2, metric="nMAE (D_f)"),
                          page.num(x["nMAE (D_f)"]["oracle"], 2, metric="nMAE (D_f) oracle"),
                          page.num(x["nMAE (D_t)"]["unlearned"], 2, metric="nMAE (D_t)"),
                          page.num(x["Gap"]["unlearned"], 2, metric="Gap"),
                          page.text_cell("yes" if i in front else "")],
                         run=r.run_id, front="1" if i in front else "0")
                for i, (r, x) in enumerate(zip(rs, m, strict=True))]
        body.append(f"<h3>{page.esc(group_title(key))}</h3>" + page.charts(
            [page.figure(chart, "Lower-left forgets like the oracle at a lower test error.")])
            + page.table(["method", "seed", "nMAE forget", "oracle's", "nMAE test", "Gap",
                          "Pareto front"], rows, name=f"regression-tradeoff {group_title(key)}"))
    if not runs:
        body.append(page.note(_NONE))
    return page.section("regression-tradeoff", "Regression: forgetting vs utility",
                        "".join(body))


def predictions_section(runs: Sequence[Run]) -> str:
    """Per run: each forget sample's prediction against its true target, for the original,
    the unlearned model and the oracle (a memorised sample sits on the diagonal for the
    original and where the function puts it for the oracle)."""
    runs = _regression(runs)
    body = [page.note("Forget-set predictions against the true targets (target units): the "
                      "original's near the diagonal are memorised; the oracle shows where a "
                      "model that never saw them puts them.")]
    for r in runs:
        if not r.has_sidecar:
            body.append(page.note(f"run {r.run_id}: no predictions: {r.sidecar_problem}"))
            continue
        a = r.arrays()
        y = np.asarray(a[sc.label_key("forget")], np.float64)
        points = [svg.Point(float(t), float(p), "", role)
                  for role in ("original", "oracle", "unlearned")
                  for t, p in zip(y, np.asarray(a[sc.pred_key(role, "forget")]), strict=True)]
        rows = [page.row([page.text_cell(role),
                          page.num(r.record["metrics"]["MAE (D_f)"][role], 3, role=role)],
                         role=role) for role in ROLES]
        chart = svg.scatter(points, "true target", "prediction",
                            title=f"forget-set predictions, {r.run_id}",
                            legend=[("original", "original"), ("unlearned", "unlearned"),
                                    ("oracle", "oracle")])
        body.append(f"<h3>{page.esc(run_title(r))}</h3>"
                    + f'<div data-run="{page.esc(r.run_id)}">' + page.charts(
                        [page.table(["model", "MAE forget"], rows, name=f"predictions {r.run_id}"),
                         page.figure(chart, "One marker per forget sample and model.")])
                    + "</div>")
    if not runs:
        body.append(page.note(_NONE))
    return page.section("predictions", "Regression: forget-set predictions", "".join(body))


_MIA = MiaView(
    kind="regression", key=sc.confidence_key, nonmembers="test",
    score="exp(−z²/2), z = error in target standard deviations",
    scores_title="Gaussian likelihoods",
    per_role="Gaussian likelihood of the true target relative to its peak (falls as the "
             "loss rises), forget vs test.",
    roc_note="Calling a sample a member when its loss is low: forget (members) vs test "
             "(non-members).",
    bins=20, x_range=(0.0, 1.0))


def mia_blocks(runs: Sequence[Run]) -> list[str]:
    return [mia_block(r, _MIA) if r.has_sidecar else
            page.note(f"run {r.run_id}: no score distributions: {r.sidecar_problem}")
            for r in _regression(runs)]
