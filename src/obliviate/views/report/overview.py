"""Sections every kind of run shares: leaderboards, attacks, and run time against retraining."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import groupby
from typing import Any

from obliviate.storage.records import SCHEMA
from obliviate.views.kinds import view_for
from obliviate.views.report import page, svg
from obliviate.views.report.load import Run
from obliviate.views.tables import ranked_methods
from obliviate.views.verdict import verdict


def groups(runs: Sequence[Run]) -> list[tuple[tuple[str, str, str, str], list[Run]]]:
    """Runs by (kind, scenario, forget set), in a stable order."""
    ordered = sorted(runs, key=lambda r: r.group)
    return [(k, list(v)) for k, v in groupby(ordered, key=lambda r: r.group)]


def group_title(key: tuple[str, str, str, str]) -> str:
    kind, scenario, forget, schema = key
    old = "" if schema == SCHEMA else (f" · recorded as {schema}, before the {SCHEMA} metric "
                                       "conventions (not comparable with newer runs)")
    label = view_for(kind).label
    return f"{scenario} · forget {forget}" + (f" · {label}" if label else "") + old


def run_title(r: Run) -> str:
    s = r.record["scenario"]
    return f"{r.method} · {s['name']} · forget {s['forget']} · seed {s['seed']}"


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, sd


def _cell(values: Sequence[float | None], digits: int, metric: str) -> str:
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return page.num(None, metric=metric)
    mean, sd = mean_sd(vals)
    cell = page.num(mean, digits, metric=metric)
    if len(vals) > 1:  # mean ± std over seeds; data-value keeps the mean
        cell = cell.replace("</td>", f" ± {page.fmt(sd, digits)}</td>")
    return cell


def _by_seed(runs: Sequence[Run]) -> list[Run]:
    """One run per seed: the original's and the oracle's values are in every record."""
    return list({r.record["scenario"]["seed"]: r for r in runs}.values())


def tradeoff_chart(rs: Sequence[Run], xy: Sequence[tuple[float, float]], front: Sequence[int],
                   xy_of: Callable[[dict[str, Any], str], tuple[float, float]],
                   x_label: str, y_label: str, *, title: str, x_log: bool = False,
                   y_range: tuple[float, float] | None = None) -> str:
    """Scatter of the unlearned runs ``rs`` at ``xy`` with their Pareto ``front`` (indices)
    joined, and each seed's oracle and original at ``xy_of(metrics, role)`` as squares."""
    points = [svg.Point(x, y, f"{r.method}·{r.record['scenario']['seed']}",
                        "front" if i in front else "unlearned")
              for i, (r, (x, y)) in enumerate(zip(rs, xy, strict=True))]
    for r in _by_seed(rs):
        for role in ("oracle", "original"):
            points.append(svg.Point(*xy_of(r.record["metrics"], role), role, role))
    return svg.scatter(points, x_label, y_label, title=title, front=[xy[i] for i in front],
                       x_log=x_log, y_range=y_range,
                       legend=[("unlearned", "unlearned"), ("front", "Pareto front"),
                               ("oracle", "oracle"), ("original", "original")])


def leaderboard_section(runs: Sequence[Run]) -> str:
    """Per group, the same ranking and marks as the plain-text leaderboard
    (``tables.ranked_methods``, ``views.kinds``): oracle, original and noise floor first."""
    body = []
    for key, rs in groups(runs):
        view = view_for(key[0])
        cols = list(view.columns)
        by_id = {r.run_id: r for r in rs}
        ranked, ref_records = ranked_methods([r.record for r in rs])
        ref = [by_id[str(rec["run_id"])] for rec in ref_records]
        refs = [("oracle (retrain)", "oracle", ref), ("original (no unlearning)", "original", ref)]
        if all(r.record["metrics"][cols[0][0]].get("independent") is not None for r in ref):
            refs.append(("noise floor (independent retrain)", "independent", ref))
        rows = []
        for label, role, group in (*refs, *((m + (f" ({'; '.join(marks)})" if marks else ""),
                                             "unlearned", [by_id[str(x["run_id"])] for x in recs])
                                            for m, recs, marks in ranked)):
            cells = [page.text_cell(label), page.num(len(group), 0, metric="runs")]
            cells += [_cell([r.record["metrics"][m].get(role) for r in group], d, m)
                      for m, _, d in cols]
            eff = [r.record["efficiency"] for r in group]
            if role == "unlearned":
                verdicts = [verdict(r.record).short for r in group]
                cells += [_cell([e["unlearn_seconds"] for e in eff], 3, "seconds"),
                          _cell([None if e["ratio"] is None else 100 * e["ratio"]
                                 for e in eff], 1, "% retrain"),
                          page.text_cell("; ".join(sorted(set(verdicts))) or "worked")]
            elif role == "oracle":
                cells += [_cell([e["retrain_seconds"] for e in eff], 3, "seconds"),
                          page.num(100.0, 1, metric="% retrain"), page.text_cell("")]
            elif role == "independent":
                cells += [_cell([e.get("independent_seconds") for e in eff], 3, "seconds"),
                          page.num(None, 1, metric="% retrain"), page.text_cell("")]
            else:
                cells += [page.num(0.0, 3, metric="seconds"), page.num(0.0, 1, metric="% retrain"),
                          page.text_cell("")]
            method = label.split(" (")[0] if role == "unlearned" else role
            rows.append(page.row(cells, role=role, method=method,
                                 cls="ref" if role != "unlearned" else ""))
        header = ["method", "runs", *[h for _, h, _ in cols], "time s", "% retrain", "verdict"]
        body.append(f"<h3>{page.esc(group_title(key))}</h3>"
                    + page.table(header, rows, name=f"leaderboard {group_title(key)}")
                    + page.note(view.legend))
    note = page.note("Mean ± std over seeds; each group is ranked by its kind's rule, stated "
                     "under its table.")
    return page.section("leaderboard", "Leaderboard", note + "".join(body))


def attacks_section(runs: Sequence[Run]) -> str:
    rows = []
    for r in runs:
        attacks: dict[str, Any] = r.record.get("attacks") or {}
        for name, a in attacks.items():
            metric = f"{a.get('metric', '')} ({a.get('unit', '')})"
            d = 2 if a.get("unit") == "%" else 4
            better = "higher" if a.get("higher_is_better") else "lower"
            for variant, v in (a.get("variants") or {}).items():
                before, after = v.get("before", {}), v.get("after", {})
                rows.append(page.row(
                    [page.text_cell(r.run_id), page.text_cell(r.method), page.text_cell(name),
                     page.text_cell(variant), page.text_cell(f"{metric}, {better} is better"),
                     page.num(before.get("unlearned"), d, attack=name, variant=variant,
                              role="unlearned", when="before"),
                     page.num(after.get("unlearned"), d, attack=name, variant=variant,
                              role="unlearned", when="after"),
                     page.num(before.get("oracle"), d, attack=name, variant=variant,
                              role="oracle", when="before"),
                     page.num(after.get("oracle"), d, attack=name, variant=variant,
                              role="oracle", when="after"),
                     page.text_cell(v.get("verdict", ""), verdict="1")],
                    run=r.run_id, attack=name, variant=variant))
    scores = _shadow_rows(runs)
    if not rows and not scores:
        return page.section("attacks", "Attacks",
                            page.note("No attacks were run on these runs."))
    body = ""
    if rows:
        body += page.note("Each attack's metric on the unlearned model and on the oracle, "
                          "before and after the attack (relearning, quantization, ...): "
                          "knowledge that returns after the attack was suppressed, not removed.")
        body += page.table(["run", "method", "attack", "variant", "metric", "unlearned before",
                            "unlearned after", "oracle before", "oracle after", "verdict"],
                           rows, name="attacks")
    if scores:
        body += page.note("Shadow-model attacks: scores over K unlearned and K retrained "
                          "models, beside the value a method indistinguishable from "
                          "retraining gets.")
        body += page.table(["run", "method", "attack", "score", "value", "ideal"], scores,
                           name="attack-scores")
    return page.section("attacks", "Attacks: before and after", body)


def _shadow_rows(runs: Sequence[Run]) -> list[str]:
    """One row per score of attacks that report scores (``values``), not before/after."""
    rows = []
    for r in runs:
        for name, a in (r.record.get("attacks") or {}).items():
            ideal = a.get("ideal") or {}
            for key, value in (a.get("values") or {}).items():
                rows.append(page.row(
                    [page.text_cell(r.run_id), page.text_cell(r.method), page.text_cell(name),
                     page.text_cell(key), page.num(value, 4, attack=name, score=key),
                     page.num(ideal.get(key), 4)], run=r.run_id, attack=name))
    return rows


def efficiency_section(runs: Sequence[Run]) -> str:
    body = [page.note("Wall seconds of the unlearning call against retraining from scratch "
                      "(the oracle), measured in the same run, and the samples pushed "
                      "forward and backward.")]
    for key, rs in groups(runs):
        rows = []
        for r in rs:
            e = r.record["efficiency"]
            rows.append(page.row(
                [page.text_cell(r.method), page.num(r.record["scenario"]["seed"], 0),
                 page.num(e["unlearn_seconds"], 3, metric="unlearn_seconds"),
                 page.num(e["retrain_seconds"], 3, metric="retrain_seconds"),
                 page.num(None if e["ratio"] is None else 100 * e["ratio"], 1,
                          metric="percent"),
                 page.num(e["forward"], 0, metric="forward"),
                 page.num(e["backward"], 0, metric="backward"),
                 page.num(e["retrain_forward"], 0, metric="retrain_forward"),
                 page.num(e["retrain_backward"], 0, metric="retrain_backward")],
                run=r.run_id))
        labels = [f"{r.method}·{r.record['scenario']['seed']}" for r in rs]
        top = max(max(r.record["efficiency"]["retrain_seconds"],
                      r.record["efficiency"]["unlearn_seconds"]) for r in rs)
        chart = svg.bars(labels, [
            ("unlearning", "unlearned", [r.record["efficiency"]["unlearn_seconds"] for r in rs]),
            ("retraining", "oracle", [r.record["efficiency"]["retrain_seconds"] for r in rs])],
            "seconds", title=f"run time, {group_title(key)}", y_max=max(top, 1e-9) * 1.1)
        body.append(f"<h3>{page.esc(group_title(key))}</h3>"
                    + page.table(["method", "seed", "unlearn s", "retrain s", "% retrain",
                                  "forward", "backward", "retrain forward", "retrain backward"],
                                 rows, name=f"efficiency {group_title(key)}")
                    + page.charts([page.figure(chart, "Unlearning vs retraining, per run "
                                               "(method·seed).")]))
    return page.section("efficiency", "Run time vs retraining", "".join(body))
