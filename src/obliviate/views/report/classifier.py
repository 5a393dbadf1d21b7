"""Classifier sections: forgetting vs utility, per-class accuracy, membership inference."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from obliviate.storage import sidecar as sc
from obliviate.views.report import page, svg
from obliviate.views.report.load import Run
from obliviate.views.report.mia import MiaView, mia_block
from obliviate.views.report.overview import group_title, groups, run_title, tradeoff_chart
from obliviate.views.report.stats import pareto_front

ROLES = sc.ROLES
_NONE = "No classifier runs in this report."


def _classifier(runs: Sequence[Run]) -> list[Run]:
    return [r for r in runs if r.kind == "classification"]


def _xy(metrics: dict[str, Any], role: str) -> tuple[float, float]:
    """A model on the trade-off chart: (|UA − UA(oracle)|, TA)."""
    return abs(metrics["UA"][role] - metrics["UA"]["oracle"]), metrics["TA"][role]


def tradeoff_section(runs: Sequence[Run]) -> str:
    runs = [r for r in _classifier(runs) if "UA" in r.record["metrics"]]  # UA-TA runs only
    body = [page.note(
        "Forgetting against utility, one point per run: x is how far the unlearned model's UA "
        "(100 − forget accuracy) is from the oracle's, in points (0 = forgets exactly as much "
        "as retraining; the target is the oracle, not 100), y is TA (test accuracy). Squares "
        "are the oracle and the original; the dashed line joins the Pareto front of the "
        "unlearned models (none is closer to the oracle's UA with a higher TA).")]
    for key, rs in groups(runs):
        m = [r.record["metrics"] for r in rs]
        xy = [_xy(x, "unlearned") for x in m]
        front = pareto_front(xy, maximise_x=False, maximise_y=True)
        chart = tradeoff_chart(
            rs, xy, front, _xy, "|UA − UA(oracle)| (points)", "TA (%)",
            title=f"forgetting vs utility, {group_title(key)}")
        rows = [page.row([page.text_cell(r.method), page.num(r.record["scenario"]["seed"], 0),
                          page.num(x["UA"]["unlearned"], 2, metric="UA"),
                          page.num(x["UA"]["oracle"], 2, metric="UA oracle"),
                          page.num(xy[i][0], 2, metric="UA gap"),
                          page.num(x["TA"]["unlearned"], 2, metric="TA"),
                          page.num(x["Avg.Gap"]["unlearned"], 2, metric="Avg.Gap"),
                          page.text_cell("yes" if i in front else "")],
                         run=r.run_id, front="1" if i in front else "0")
                for i, (r, x) in enumerate(zip(rs, m, strict=True))]
        body.append(f"<h3>{page.esc(group_title(key))}</h3>" + page.charts(
            [page.figure(chart, "Lower-left is forgetting like the oracle; higher is more "
                         "useful.")])
            + page.table(["method", "seed", "UA", "UA oracle", "|UA gap|", "TA", "Avg.Gap",
                          "Pareto front"], rows, name=f"tradeoff {group_title(key)}"))
    if not runs:
        body.append(page.note(_NONE))
    return page.section("tradeoff", "Forgetting vs utility", "".join(body))


def per_class_section(runs: Sequence[Run]) -> str:
    runs = _classifier(runs)
    body = [page.note("Test accuracy of each class (%) for the original, the unlearned model "
                      "and the oracle. A class absent from the test split shows a dash.")]
    for r in runs:
        pc = r.record.get("per_class_accuracy")
        if not pc:
            body.append(page.note(f"run {r.run_id} records no per-class accuracy"))
            continue
        classes = [str(c) for c in r.record["scenario"].get("classes",
                                                            range(len(pc["original"])))]
        rows = [page.row([page.text_cell(role)] +
                         [page.num(v, 2, cls=c) for c, v in zip(classes, pc[role], strict=True)],
                         role=role) for role in ROLES]
        chart = svg.bars(classes, [(role, role, pc[role]) for role in ROLES],
                         "test accuracy (%)", title=f"per-class accuracy, {r.run_id}")
        body.append(f"<h3>{page.esc(run_title(r))}</h3>"
                    + f'<div data-run="{page.esc(r.run_id)}">'
                    + page.charts([page.table(["model", *classes], rows,
                                              name=f"per-class {r.run_id}"),
                                   page.figure(chart, "Original, unlearned and oracle per "
                                               "class.")]) + "</div>")
    if not runs:
        body.append(page.note(_NONE))
    return page.section("per-class", "Per-class accuracy", "".join(body))


_MIA = MiaView(
    kind="classifier", key=sc.confidence_key, nonmembers="test",
    score="confidence (p of true label)", scores_title="confidences",
    per_role="softmax probability of the true label, forget vs test.",
    roc_note="Calling a sample a member when its confidence is high: forget (members) vs test "
             "(non-members).",
    bins=20, x_range=(0.0, 1.0))


def mia_blocks(runs: Sequence[Run]) -> list[str]:
    """Per run: confidence histograms (forget vs test) for each role and their ROC curves."""
    return [mia_block(r, _MIA) if r.has_sidecar else _no_sidecar(r) for r in _classifier(runs)]


def _no_sidecar(r: Run) -> str:
    return page.note(f"run {r.run_id}: no score distributions: {r.sidecar_problem}")
