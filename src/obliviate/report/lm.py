"""Language-model sections: forget quality vs model utility, truth ratios, example answers,
and the Min-K% membership scores (forget vs holdout biographies)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from obliviate import sidecar as sc
from obliviate.report import page, svg
from obliviate.report.load import Run
from obliviate.report.overview import group_title, groups
from obliviate.report.stats import ks, pareto_front, roc

ROLES = sc.ROLES
_NONE = "No language-model runs in this report."
_FLOOR = 1e-300  # a p-value of 0 on a log axis


def _lm(runs: Sequence[Run]) -> list[Run]:
    return [r for r in runs if r.kind == "lm"]


def _title(r: Run) -> str:
    s = r.record["scenario"]
    return f"{r.method} · {s['name']} · forget {s['forget']} · seed {s['seed']}"


def _no_sidecar(r: Run) -> str:
    return page.note(f"run {r.run_id} has no feature sidecar (recorded before sidecars "
                     "existed): no per-question distributions")


def tradeoff_section(runs: Sequence[Run]) -> str:
    runs = _lm(runs)
    body = [page.note("TOFU's forget quality (KS p-value of truth ratios against the oracle; "
                      "log scale, ≥ 0.05 = indistinguishable) against model utility, one point "
                      "per run; the dashed line is the Pareto front of the unlearned models.")]
    for key, rs in groups(runs):
        m = [r.record["metrics"] for r in rs]
        xy = [(max(x["Forget quality"]["unlearned"], _FLOOR), x["Model utility"]["unlearned"])
              for x in m]
        front = pareto_front(xy, maximise_x=True, maximise_y=True)
        points = [svg.Point(x, y, f"{r.method}·{r.record['scenario']['seed']}",
                            "front" if i in front else "unlearned")
                  for i, (r, (x, y)) in enumerate(zip(rs, xy, strict=True))]
        for r in {r.record["scenario"]["seed"]: r for r in rs}.values():
            mm = r.record["metrics"]
            for role in ("oracle", "original"):
                points.append(svg.Point(max(mm["Forget quality"][role], _FLOOR),
                                        mm["Model utility"][role], role, role))
        chart = svg.scatter(points, "forget quality (p)", "model utility",
                            title=f"forget quality vs model utility, {group_title(key)}",
                            front=[xy[i] for i in front], x_log=True,
                            legend=[("unlearned", "unlearned"), ("front", "Pareto front"),
                                    ("oracle", "oracle"), ("original", "original")])
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
        hi = max(1.0, float(max(u.max(), o.max()))) if len(u) else 1.0
        chart = svg.histograms([("unlearned", "unlearned", u), ("oracle", "oracle", o)],
                               "truth ratio R", title=f"truth ratios, {r.run_id}",
                               x_range=(0.0, math.ceil(hi * 10) / 10))
        recorded = r.record["metrics"]["Forget quality"]["unlearned"]
        stats = (f'<p class="ks" data-run="{page.esc(r.run_id)}" data-ks-statistic="{stat!r}" '
                 f'data-ks-pvalue="{p!r}" data-forget-quality="{float(recorded)!r}" '
                 f'data-questions="{len(u)}">KS D = {stat:.4f}, p = {page.fmt(p, 4)} over '
                 f"{len(u)} questions (the record's forget quality: "
                 f"{page.fmt(recorded, 4)})</p>")
        body.append(f"<h3>{page.esc(_title(r))}</h3>" + stats + page.charts(
            [page.figure(chart, "Unlearned vs oracle truth ratios on the forget questions.")]))
    if not runs:
        body.append(page.note(_NONE))
    return page.section("truth-ratio", "Truth ratios: unlearned vs oracle", "".join(body))


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
        body.append(f"<h3>{page.esc(_title(r))}</h3>" + page.table(
            ["question", "true answer", "original", "unlearned", "oracle"], rows,
            name=f"examples {r.run_id}"))
    if not runs:
        body.append(page.note(_NONE))
    return page.section("examples", "Example questions", "".join(body))


def mia_blocks(runs: Sequence[Run]) -> list[str]:
    """Per LM run: Min-K% (k = 40%) scores of forget vs holdout biographies, and ROC curves."""
    out = []
    for r in _lm(runs):
        if not r.has_sidecar:
            out.append(_no_sidecar(r))
            continue
        a = r.arrays()
        figures, curves, rows = [], [], []
        for role in ROLES:
            f, h = a[sc.mia_key(role, "forget")], a[sc.mia_key(role, "holdout")]
            figures.append(page.figure(svg.histograms(
                [("forget", "forget", f), ("holdout", "holdout", h)], "Min-K% (40%) score",
                title=f"{role} Min-K% scores", bins=10),
                f"{role}: mean of the lowest 40% token log-probabilities, per biography."))
            fpr, tpr, auc = roc(f, h)
            curves.append((f"{role} AUC {auc:.3f}", role, fpr, tpr))
            rows.append(page.row([page.text_cell(role), page.num(auc, 4, role=role, auc="1"),
                                  page.num(len(f), 0), page.num(len(h), 0)], role=role))
        figures.append(page.figure(svg.lines(curves, "false positive rate (holdout)",
                                             "true positive rate (forget)",
                                             title="ROC forget vs holdout", diagonal=True),
                                   "Min-K% membership inference: forget biographies "
                                   "(members) vs holdout people never trained on."))
        out.append(f"<h3>{page.esc(_title(r))}</h3>" + f'<div data-run="{page.esc(r.run_id)}"'
                   ' data-mia="lm">'
                   + page.table(["model", "ROC AUC forget vs holdout", "forget n",
                                 "holdout n"], rows, name=f"mia {r.run_id}")
                   + page.charts(figures) + "</div>")
    return out
