"""Plain-text tables of run records: one run beside its oracle, and leaderboards."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

SCORE_METRICS = ("UA", "RA", "TA", "MIA-Eff")


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _num(v: float | None, digits: int = 2) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def run_table(record: dict[str, Any]) -> str:
    """One run: every metric for the original, the unlearned model and the oracle."""
    sc, me, eff = record["scenario"], record["method"], record["efficiency"]
    sizes = sc["sizes"]
    head = (f"{sc['name']} · {sc['model']} · forget {sc['forget']} ({sizes['forget']} of "
            f"{sizes['forget'] + sizes['retain']} training sequences) · method {me['name']} · "
            f"seed {sc['seed']}")
    rows = []
    for name, m in record["metrics"].items():
        if name == "RTE":
            continue
        digits = 2 if m["unit"] in ("%", "pp", "s") else 4
        gap = (None if m["unlearned"] is None or m["oracle"] is None
               else abs(m["unlearned"] - m["oracle"]))
        rows.append([f"{name} ({m['unit']})", _num(m["original"], digits),
                     _num(m["unlearned"], digits), _num(m["oracle"], digits),
                     _num(gap, digits)])
    table = format_table(["metric", "original", "unlearned", "oracle", "|unl-oracle|"], rows)
    time_line = (f"time: unlearning {eff['unlearn_seconds']:.3f} s = "
                 f"{100 * eff['ratio']:.1f}% of retraining ({eff['retrain_seconds']:.2f} s); "
                 f"samples forward/backward {eff['forward']:,}/{eff['backward']:,} "
                 f"(retraining {eff['retrain_forward']:,}/{eff['retrain_backward']:,})")
    return "\n".join([head, table, time_line])


def _stats(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, sd


def _cell(values: Sequence[float], digits: int = 2) -> str:
    mean, sd = _stats(values)
    return f"{mean:.{digits}f}" if len(values) == 1 else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def _by_method(records: Sequence[dict[str, Any]],
               ) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Records grouped by method, and one record per seed for the original and oracle rows
    (their values are recorded beside every run, so any record of a seed will do)."""
    by_method: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_method.setdefault(r["method"]["name"], []).append(r)
    return by_method, list({r["scenario"]["seed"]: r for r in records}.values())


def _time_cells(recs: Sequence[dict[str, Any]], role: str, digits: int) -> list[str]:
    """Wall seconds and % of retraining: the method's, retraining's own, or none."""
    if role == "unlearned":
        return [_cell([r["efficiency"]["unlearn_seconds"] for r in recs], digits),
                _cell([100 * r["efficiency"]["ratio"] for r in recs], 1)]
    if role == "oracle":
        return [_cell([r["efficiency"]["retrain_seconds"] for r in recs], digits), "100"]
    return ["0", "0"]


def leaderboard(records: Sequence[dict[str, Any]]) -> str:
    """Methods ranked by mean Avg. Gap, with the oracle and the untouched original as rows.

    ``records`` share a scenario and forget set; several seeds give mean ± std. The original
    and oracle rows come from the same records (their values are recorded beside every run).
    """
    by_method, ref = _by_method(records)

    def row(label: str, recs: Sequence[dict[str, Any]], role: str) -> list[str]:
        cells = [_cell([r["metrics"][m][role] for r in recs]) for m in SCORE_METRICS]
        gap = [r["metrics"]["Avg.Gap"][role] for r in recs]
        return [label, *cells, _cell(gap), *_time_cells(recs, role, 3)]

    ranked = sorted(by_method.items(),
                    key=lambda kv: _stats([r["metrics"]["Avg.Gap"]["unlearned"]
                                           for r in kv[1]])[0])
    original_gap = _stats([r["metrics"]["Avg.Gap"]["original"] for r in ref])[0]
    rows = [row("oracle (retrain)", ref, "oracle"),
            row("original (no unlearning)", ref, "original")]
    for name, recs in ranked:
        mean_gap = _stats([r["metrics"]["Avg.Gap"]["unlearned"] for r in recs])[0]
        mark = "" if mean_gap < original_gap else " (no better than original)"
        rows.append(row(name + mark, recs, "unlearned"))
    header = ["method", *SCORE_METRICS, "Avg.Gap", "time s", "% retrain"]
    return format_table(header, rows)


LM_COLUMNS = (("Forget quality", "FQ", 4), ("Model utility", "MU", 3),
              ("Exact match (D_f)", "EM D_f %", 1), ("Exact match (D_r)", "EM D_r %", 1),
              ("PrivLeak", "PrivLeak", 1))


def lm_leaderboard(records: Sequence[dict[str, Any]]) -> str:
    """Language-model runs ranked by mean forget quality (TOFU), with the oracle and the
    untouched original as rows. ``MU/orig`` is model utility relative to the original's."""
    by_method, ref = _by_method(records)

    def row(label: str, recs: Sequence[dict[str, Any]], role: str) -> list[str]:
        cells = [_cell([r["metrics"][m][role] for r in recs], d) for m, _, d in LM_COLUMNS]
        rel = _cell([r["metrics"]["Model utility"][role] / r["metrics"]["Model utility"]
                     ["original"] for r in recs], 3)
        return [label, *cells[:2], rel, *cells[2:], *_time_cells(recs, role, 2)]

    ranked = sorted(by_method.items(), key=lambda kv: -_stats(
        [r["metrics"]["Forget quality"]["unlearned"] for r in kv[1]])[0])
    rows = [row("oracle (retrain)", ref, "oracle"),
            row("original (no unlearning)", ref, "original")]
    rows += [row(name, recs, "unlearned") for name, recs in ranked]
    header = ["method", "FQ", "MU", "MU/orig", *[h for _, h, _ in LM_COLUMNS[2:]],
              "time s", "% retrain"]
    return format_table(header, rows)


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
    lm = records[0]["scenario"]["kind"] == "lm"
    names = ("Forget quality", "Model utility", "Exact match (D_f)") if lm else (
        *SCORE_METRICS, "Avg.Gap")
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
