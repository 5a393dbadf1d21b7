"""Language-model sections: forget quality vs model utility, truth ratios, example answers,
and the Min-K% membership scores (forget vs holdout biographies)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from obliviate.storage import sidecar as sc
from obliviate.views.report import page, svg
from obliviate.views.report.load import Run
from obliviate.views.report.mia import MiaView, mia_block
from obliviate.views.report.overview import group_title, groups, run_title, tradeoff_chart
from obliviate.views.report.stats import ks, pareto_front

ROLES = sc.ROLES
_NONE = "No language-model runs in this report."
_FLOOR = 1e-300  # a p-value of 0 on a log axis


def _lm(runs: Sequence[Run]) -> list[Run]:
    return [r for r in runs if r.kind == "lm"]


def _no_sidecar(r: Run) -> str:
    return page.note(f"run {r.run_id}: no per-question distributions: {r.sidecar_problem}")


def _xy(metrics: dict[str, Any], role: str) -> tuple[float, float]:
    """A model on the trade-off chart: (forget quality, floored for the log axis; utility)."""
    return max(metrics["Forget quality"][role], _FLOOR), metrics["Model utility"][role]


def tradeoff_section(runs: Sequence[Run]) -> str:
    runs = _lm(runs)
    body = [page.note("TOFU's forget quality (KS p-value of truth ratios against the oracle; "
                      "log scale, ≥ 0.05 = indistinguishable) against model utility, one point "
                      "per run; the dashed line is the Pareto front of the unlearned models.")]
    for key, rs in groups(runs):
        m = [r.record["metrics"] for r in rs]
        xy = [_xy(x, "unlearned") for x in m]
        front = pareto_front(xy, maximise_x=True, maximise_y=True)
        chart = tradeoff_chart(
            rs, xy, front, _xy, "forget quality (p)", "model utility",
            title=f"forget quality vs model utility, {group_title(key)}", x_log=True,
            y_range=(0.0, 1.0))
        rows = [page.row([page.text_cell(r.method), page.num(r.record["scenario"]["seed"], 0),
                          page.num(x["Forget quality"]["unlearned"], 4, metric="Forget quality"),
                          page.num(x["Model utility"]["unlearned"], 3, metric="Model utility"),
                          page.text_cell("yes" if i in front else "")],
                         run=r.run_id, front="1" if i in front else "0")
                for i, (r, x) in enumerate(zip(rs, m, strict=True))]
        body.append(f"<h3>{page.esc(group_title(key))}</h3>"
                    + page.charts([page.figure(chart, "Upper right is better.")])
                    + page.table(["method", "seed", "forget quality", "model utility",
                                  "Pareto front"], rows, name=f"lm-tradeoff {group_title(key)}"))
    if not runs:
        body.append(page.note(_NONE))
    return page.section("lm-tradeoff", "Forget quality vs model utility", "".join(body))


def truth_ratio_section(runs: Sequence[Run]) -> str:
    runs = _lm(runs)
    body = [page.note("Per forget question, the truth ratio R (perturbed over paraphrased "
                      "answer probability) under the unlearned model and under the oracle. "
                      "Forget quality is the two-sample KS test between the two: D is the "
                      "largest gap between their cumulative distributions.")]
    for r in runs:
        if not r.has_sidecar:
            body.append(_no_sidecar(r))
            continue
        a = r.arrays()
        u, o = a[sc.truth_ratio_key("unlearned")], a[sc.truth_ratio_key("oracle")]
        stat, p = ks(u, o)
        chart = svg.histograms([("unlearned", "unlearned", u), ("oracle", "oracle", o)],
                               "truth ratio R", title=f"truth ratios, {r.run_id}")
        recorded = r.record["metrics"]["Forget quality"]["unlearned"]
        stats = (f'<p class="ks" data-run="{page.esc(r.run_id)}" data-ks-statistic="{stat!r}" '
                 f'data-ks-pvalue="{p!r}" data-forget-quality="{float(recorded)!r}" '
                 f'data-questions="{len(u)}">KS D = {stat:.4f}, p = {page.fmt(p, 4)} over '
                 f"{len(u)} questions (the record's forget quality: "
                 f"{page.fmt(recorded, 4)})</p>")
        body.append(f"<h3>{page.esc(run_title(r))}</h3>" + stats + page.charts(
            [page.figure(chart, "Unlearned vs oracle truth ratios on the forget questions."),
             page.figure(_cdfs(u, o, stat), "Their cumulative distributions; the purple "
                         "segment is the KS statistic D, the largest vertical gap.")]))
    if not runs:
        body.append(page.note(_NONE))
    return page.section("truth-ratio", "Truth ratios: unlearned vs oracle", "".join(body))


def _cdfs(u: np.ndarray, o: np.ndarray, stat: float) -> str:
    """Empirical CDFs of both samples as steps, and D where the gap is largest."""
    u, o = np.sort(u.astype(np.float64)), np.sort(o.astype(np.float64))
    pooled = np.concatenate([u, o])
    lo, hi = float(pooled.min()), float(pooled.max())
    lo, hi = (lo - 0.5, hi + 0.5) if hi <= lo else (lo - 0.02 * (hi - lo), hi + 0.02 * (hi - lo))

    def steps(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = np.arange(len(v) + 1) / len(v)
        return np.r_[lo, np.repeat(v, 2), hi], np.repeat(k, 2)

    grid = np.sort(pooled)
    gap = np.abs(np.searchsorted(u, grid, "right") / len(u)
                 - np.searchsorted(o, grid, "right") / len(o))
    at = float(grid[int(np.argmax(gap))])
    fu, fo = (float(np.searchsorted(v, at, "right") / len(v)) for v in (u, o))
    return svg.lines([("unlearned", "unlearned", *steps(u)), ("oracle", "oracle", *steps(o)),
                      (f"D = {stat:.3f}", "front", np.array([at, at]), np.array([fu, fo]))],
                     "truth ratio R", "cumulative share of questions",
                     title="truth-ratio CDFs", x_range=(lo, hi))


def examples_section(runs: Sequence[Run]) -> str:
    runs = _lm(runs)
    body = [page.note("A few forget questions with the true answer and the greedy answer of "
                      "each model.")]
    for r in runs:
        ex = (r.record.get("lm") or {}).get("examples") or []
        if not ex:
            body.append(page.note(f"run {r.run_id} records no example answers"))
            continue
        rows = [page.row([page.text_cell(e.get(k, ""), field=k)
                          for k in ("question", "answer", *ROLES)], run=r.run_id) for e in ex]
        body.append(f"<h3>{page.esc(run_title(r))}</h3>" + page.table(
            ["question", "true answer", "original", "unlearned", "oracle"], rows,
            name=f"examples {r.run_id}", text=True))
    if not runs:
        body.append(page.note(_NONE))
    return page.section("examples", "Example questions", "".join(body))


_MIA = MiaView(
    kind="lm", key=sc.mia_key, nonmembers="holdout", score="Min-K% (40%) score",
    scores_title="Min-K% scores",
    per_role="mean of the lowest 40% token log-probabilities, per biography.",
    roc_note="Min-K% membership inference: forget biographies (members) vs holdout people "
             "never trained on.",
    bins=10, x_range=None)


def mia_blocks(runs: Sequence[Run]) -> list[str]:
    """Per LM run: Min-K% (k = 40%) scores of forget vs holdout biographies, and ROC curves."""
    return [mia_block(r, _MIA) if r.has_sidecar else _no_sidecar(r) for r in _lm(runs)]
