"""Plain-text tables of run records: one run beside its oracle, and leaderboards.

Every leaderboard has the oracle, the untouched original and, where the records carry one,
the noise floor (``independent``: an exact retrain from another initialisation) as rows, and
ends with a legend that says what each column means and how rows are ranked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from obliviate.storage.records import record_kind, same_conventions
from obliviate.views.kinds import (
    no_better_than_original,
    rank_key,
    share_of_original,
    view_for,
)
from obliviate.views.verdict import verdict

SCORE_METRICS = ("UA", "RA", "TA", "MIA-Eff")
LM_COLUMNS = (("Forget quality", "FQ", 4), ("Model utility", "MU", 3),
              ("Exact match (D_f)", "EM forget %", 1), ("Exact match (D_r)", "EM retain %", 1),
              ("PrivLeak", "PrivLeak", 1))
FLOOR = "independent"  # the noise floor's role in a record


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _num(v: float | None, digits: int = 2) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def ratio_text(eff: dict[str, Any]) -> str:
    """"12.3% of retraining", or why no ratio is shown (retraining timed elsewhere)."""
    if eff.get("ratio") is None:
        return f"no ratio to retraining ({eff.get('ratio_withheld', 'not measured')})"
    return f"{100 * eff['ratio']:.1f}% of retraining ({eff['retrain_seconds']:.2f} s)"


def run_table(record: dict[str, Any]) -> str:
    """One run: every metric for the original, the unlearned model, the oracle and (when the
    run has one) the noise floor; then the time and the verdict."""
    sc, me, eff = record["scenario"], record["method"], record["efficiency"]
    sizes = sc["sizes"]
    head = (f"{sc['name']} · {sc['model']} · forget {sc['forget']} ({sizes['forget']} of "
            f"{sizes['forget'] + sizes['retain']} training sequences) · method {me['name']} · "
            f"seed {sc['seed']}")
    floor = any(FLOOR in m for m in record["metrics"].values())
    rows = []
    for name, m in record["metrics"].items():
        if name == "RTE":
            continue
        digits = 2 if m["unit"] in ("%", "pp", "s") else 4
        gap = (None if m["unlearned"] is None or m["oracle"] is None
               else abs(m["unlearned"] - m["oracle"]))
        rows.append([f"{name} ({m['unit']})", _num(m["original"], digits),
                     _num(m["unlearned"], digits), _num(m["oracle"], digits),
                     _num(gap, digits)] + ([_num(m.get(FLOOR), digits)] if floor else []))
    header = ["metric", "original", "unlearned", "oracle", "|unl-oracle|"]
    table = format_table(header + (["noise floor"] if floor else []), rows)
    time_line = (f"time: unlearning {eff['unlearn_seconds']:.3f} s = {ratio_text(eff)}; "
                 f"samples forward/backward {eff['forward']:,}/{eff['backward']:,} "
                 f"(retraining {eff['retrain_forward']:,}/{eff['retrain_backward']:,})")
    lines = [head, table, time_line]
    if floor:
        lines.append("noise floor: an exact retrain from another initialisation, scored "
                     "against the oracle like the unlearned model (how close exact retraining "
                     "itself lands)")
    try:
        lines.append(verdict(record).line)
    except ValueError as e:  # a record without what a verdict reads: say so, keep the table
        lines.append(f"verdict: not available ({e})")
    return "\n".join(lines)


def _stats(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, sd


def _cell(values: Sequence[float | None], digits: int = 2) -> str:
    """mean ± std over seeds; values a metric could not define (None) are left out, and
    the cell says how many seeds it covers when some were."""
    kept = [v for v in values if v is not None]
    if not kept:
        return "—"
    mean, sd = _stats(kept)
    cell = f"{mean:.{digits}f}" if len(kept) == 1 else f"{mean:.{digits}f} ± {sd:.{digits}f}"
    return cell if len(kept) == len(values) else f"{cell} ({len(kept)}/{len(values)})"


def _by_method(records: Sequence[dict[str, Any]],
               ) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Records grouped by method, and one record per seed for the reference rows (their
    values are recorded beside every run, so any record of a seed will do, except that the
    original of a run trained for guaranteed deletion (``scenario.trained_with``) is that
    ensemble: an ordinary record of the seed is preferred)."""
    same_conventions(list(records))
    by_method: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_method.setdefault(r["method"]["name"], []).append(r)
    plain_last = sorted(records, key=lambda r: "trained_with" not in r["scenario"])
    return by_method, list({r["scenario"]["seed"]: r for r in plain_last}.values())


def _has_floor(ref: Sequence[dict[str, Any]], metric: str) -> bool:
    return all(r["metrics"][metric].get(FLOOR) is not None for r in ref)


def _time_cells(recs: Sequence[dict[str, Any]], role: str, digits: int) -> list[str]:
    """Wall seconds and % of retraining: the method's, retraining's own, or none."""
    if role == "unlearned":
        ratios = [None if r["efficiency"].get("ratio") is None else
                  100 * r["efficiency"]["ratio"] for r in recs]
        return [_cell([r["efficiency"]["unlearn_seconds"] for r in recs], digits),
                _cell(ratios, 1)]
    if role == "oracle":
        return [_cell([r["efficiency"]["retrain_seconds"] for r in recs], digits), "100"]
    if role == FLOOR:
        return [_cell([r["efficiency"].get("independent_seconds") for r in recs], digits),
                "—"]
    return ["0", "0"]


def _marks(recs: Sequence[dict[str, Any]]) -> str:
    """The verdicts' marks, when every seed agrees on one (else each mark with the share of
    seeds that carry it, e.g. "utility lost 1/3": lost on one seed of three)."""
    shorts = [verdict(r).short for r in recs]
    if all(s == shorts[0] for s in shorts):
        return f" ({shorts[0]})" if shorts[0] else ""
    counts: dict[str, int] = {}
    for s in shorts:
        if s:
            counts[s] = counts.get(s, 0) + 1
    return " (" + "; ".join(f"{m} {n}/{len(shorts)}" for m, n in counts.items()) + ")"


def ranked_methods(records: Sequence[dict[str, Any]],
                   ) -> tuple[list[tuple[str, list[dict[str, Any]], list[str]]],
                              list[dict[str, Any]]]:
    """[(method, its records, marks)] in the kind's ranking order, and one record per seed
    for the reference rows. Methods the kind's gate keeps out (an LM that lost its utility)
    follow the ranked ones, marked; the views share this so they rank alike."""
    by_method, ref = _by_method(records)
    kind = record_kind(records[0])
    view, key = view_for(kind), rank_key(kind)
    gated = {m: view.gate(rs) for m, rs in by_method.items()}
    order = sorted(by_method, key=lambda m: (gated[m] is not None, key(by_method[m])))
    out = []
    for m in order:
        marks = []
        if no_better_than_original(kind, by_method[m], ref):
            marks.append("no better than original")
        if gated[m]:
            marks.append(str(gated[m]))
        kinds = sorted({str(r["guarantee"]["guarantee"]) for r in by_method[m]
                        if "guarantee" in r})
        if kinds:  # guaranteed/adapter.py: the deletion's guarantee, not an approximation
            marks.append(f"{' / '.join(kinds)} deletion")
        out.append((m, by_method[m], marks))
    return out, ref


def leaderboard(records: Sequence[dict[str, Any]]) -> str:
    """Runs of one kind, scenario and forget set ranked by the kind's rule (``views.kinds``),
    below the oracle, the untouched original and the noise floor; then the kind's legend.
    Several seeds give mean ± std."""
    kind = record_kind(records[0])
    view = view_for(kind)
    ranked, ref = ranked_methods(records)

    def row(label: str, recs: Sequence[dict[str, Any]], role: str) -> list[str]:
        cells = [_cell([r["metrics"][m].get(role) for r in recs], d) for m, _, d in
                 view.columns]
        if view.relative is not None:
            m = view.relative[0]
            cells.insert(len(cells) if len(cells) < 2 else 2, _cell(
                [share_of_original(r, m, role) for r in recs], 3))
        return [label, *cells, *_time_cells(recs, role, 3)]

    rows = [row("oracle (retrain)", ref, "oracle"),
            row("original (no unlearning)", ref, "original")]
    if _has_floor(ref, view.columns[0][0]):
        rows.append(row("noise floor (independent retrain)", ref, FLOOR))
    for name, recs, marks in ranked:
        label = name + (f" ({'; '.join(marks)})" if marks else "") + _marks(recs)
        rows.append(row(label, recs, "unlearned"))
    headers = [h for _, h, _ in view.columns]
    if view.relative is not None:
        headers.insert(len(headers) if len(headers) < 2 else 2, view.relative[1])
    n_q = sorted({r.get("lm", {}).get("forget_questions") for r in records} - {None})
    if n_q:  # forget quality's floor depends on the number of questions: show it
        headers[0] = f"{headers[0]} ({'/'.join(str(n) for n in n_q)} q)"
    header = ["method", *headers, "time s", "% retrain"]
    return format_table(header, rows) + "\n" + view.legend


def grid_tables(groups: Sequence[tuple[tuple[str, str], Sequence[dict[str, Any]]]]) -> str:
    """``obliviate grid``: a leaderboard per scenario and forget set, over its seeds."""
    out = []
    for (scenario, forget), records in groups:
        seeds = sorted({r["scenario"]["seed"] for r in records})
        head = f"== {scenario} · forget {forget} · seeds {', '.join(map(str, seeds)) or 'none'}"
        out.append(head + "\n" + (leaderboard(records) if records else "no finished cells"))
    return "\n\n".join(out)


def attack_table(record: dict[str, Any]) -> str:
    """The record's attacks: the forget metric before, after the attack, and the oracle's
    after the same attack (the baseline: what never-learned data looks like)."""
    rows, notes = [], []
    for name, a in record.get("attacks", {}).items():
        for variant, v in a.get("variants", {}).items():
            rows.append([name, variant, f"{a['metric']} ({a['unit']})",
                         _num(v["before"]["unlearned"]), _num(v["after"]["unlearned"]),
                         _num(v["after"]["oracle"]), _num(v["after"].get("original")),
                         v["verdict"]])
        for key, value in a.get("values", {}).items():
            ideal = a.get("ideal", {}).get(key)
            notes.append(f"{name}: {key} {value:.3f}" + ("" if ideal is None else
                                                         f" (ideal {ideal:g})"))
    out = []
    if rows:
        out.append(format_table(["attack", "variant", "metric", "before", "after attack",
                                 "oracle after attack", "original after", "verdict"], rows))
    return "\n".join(out + notes)


def sequence_table(records: Sequence[dict[str, Any]]) -> str:
    """One row per deletion request: what is forgotten so far, unlearned vs its oracle."""
    kind = record_kind(records[0])
    lm = kind == "lm"
    names = ("Forget quality", "Model utility", "Exact match (D_f)") if lm else (
        *SCORE_METRICS, "Avg.Gap") if kind == "classification" else tuple(
        m for m, _, _ in view_for(kind).columns)  # another kind: its leaderboard's columns
    rows = []
    for r in records:
        seq, m = r["sequence"], r["metrics"]
        rows.append([f"{seq['request']}/{seq['of']}", str(seq["forget_so_far"]),
                     *(f"{_num(m[n]['unlearned'], 4 if lm else 2)} | "
                       f"{_num(m[n]['oracle'], 4 if lm else 2)}" for n in names),
                     f"{r['efficiency']['unlearn_seconds']:.2f}"])
    return format_table(["request", "forgotten", *(f"{n} unl | oracle" for n in names),
                         "time s"], rows)


def _ranges(rows: Sequence[int]) -> str:
    """``[0, 1, 2, 5, 7, 8]`` -> ``"0-2, 5, 7-8"``."""
    rows = sorted(rows)
    parts, i = [], 0
    while i < len(rows):
        j = i
        while j + 1 < len(rows) and rows[j + 1] == rows[j] + 1:
            j += 1
        parts.append(str(rows[i]) if i == j else f"{rows[i]}-{rows[j]}")
        i = j + 1
    return ", ".join(parts) or "none"


def split_table(name: str, source: str, rows: dict[str, Any], n_source_rows: int) -> str:
    """``obliviate split``: how many source rows each split holds, and which (as ranges).

    Rows count from 0 at the first data row (a CSV's header and blank lines are not rows),
    the numbering ``indices:FILE`` and ``--test FILE`` use.
    """
    used = sum(len(v) for v in rows.values())
    lines = [f"{name}: {n_source_rows} source rows (the first data row is row 0); "
             + ", ".join(f"{len(v)} {k}" for k, v in rows.items())
             + (f", {n_source_rows - used} unused (exact duplicates dropped, or beyond the "
                "scenario's training-set size)" if used < n_source_rows else ""),
             f"split: {source}"]
    lines += [f"{k} rows: {_ranges([int(r) for r in v])}" for k, v in rows.items()]
    lines.append("An indices:FILE forget set may name only train rows; "
                 "--rows train prints them one per line.")
    return "\n".join(lines)
