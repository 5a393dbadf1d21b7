"""HTML building blocks: escaping, numbers with machine-readable values, tables, sections.

Every number shown is also in a ``data-value`` attribute at full precision (``repr``), so a
program (or a test) can read the report back without parsing formatted text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;
 max-width:1100px;padding:16px 24px;color:#1d2330;background:#fff}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:28px 0 8px;
 border-bottom:1px solid #d5dae3;padding-bottom:4px}h3{font-size:15px;margin:16px 0 6px}
p.note{color:#5a6272;margin:4px 0}
table{border-collapse:collapse;margin:6px 0 12px;font-variant-numeric:tabular-nums}
th,td{padding:3px 9px;border-bottom:1px solid #e4e7ee;text-align:right;white-space:nowrap}
th{background:#f3f5f9;font-weight:600}td.text,th.text{text-align:left;white-space:normal}
tr.ref td{color:#5a6272}pre{background:#f6f7fa;padding:8px;overflow-x:auto;font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0}
figcaption{font-size:12px;color:#5a6272;max-width:340px}
svg.chart{background:#fff;font-size:10px}rect.plot{fill:#fbfcfd;stroke:#c9ced8}
line.grid{stroke:#eceff4}line.chance{stroke:#9aa1ad;stroke-dasharray:4 3}
text.tick{fill:#5a6272}text.label{fill:#1d2330;font-size:11px}
text.point{fill:#3b4252;font-size:9px}text.legend{fill:#1d2330;font-size:10px}
.original{fill:#8a8f99;stroke:#8a8f99}.unlearned{fill:#2f6fd6;stroke:#2f6fd6}
.oracle{fill:#e07b1f;stroke:#e07b1f}.forget{fill:#c2334d;stroke:#c2334d}
.test,.holdout{fill:#2a9d6f;stroke:#2a9d6f}.front{fill:none;stroke:#6b4fbb;stroke-width:1.5;
 stroke-dasharray:5 3}rect.front{fill:#6b4fbb}circle.front{fill:#6b4fbb;stroke:#6b4fbb}
polygon.hist{fill-opacity:.22;stroke-width:1.3}polyline.line{fill:none;stroke-width:1.8}
"""


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def fmt(v: float | None, digits: int = 2) -> str:
    if v is None:
        return "—"
    if digits == 0:  # counts: thousands separated
        return f"{v:,.0f}"
    if v != 0 and (abs(v) < 10 ** -digits or abs(v) >= 1e6):
        return f"{v:.{max(1, digits)}e}"
    return f"{v:.{digits}f}"


def num(v: float | None, digits: int = 2, **attrs: str) -> str:
    """A ``<td>`` showing ``v`` rounded, with ``data-value`` holding it exactly."""
    extra = "".join(f' data-{k.replace("_", "-")}="{esc(a)}"' for k, a in attrs.items())
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return f'<td data-value=""{extra}>—</td>'
    return f'<td data-value="{float(v)!r}"{extra}>{esc(fmt(float(v), digits))}</td>'


def text_cell(v: object, **attrs: str) -> str:
    extra = "".join(f' data-{k.replace("_", "-")}="{esc(a)}"' for k, a in attrs.items())
    return f'<td class="text"{extra}>{esc(v)}</td>'


def table(header: Sequence[str], rows: Sequence[str], *, name: str = "",
          text: bool = False) -> str:
    """``rows`` are pre-built ``<tr>`` strings (cells from ``num``/``text_cell``); ``text``
    left-aligns every heading (a table of words, not numbers)."""
    head = "".join(f'<th class="text">{esc(h)}</th>' if i == 0 or text else f"<th>{esc(h)}</th>"
                   for i, h in enumerate(header))
    attr = f' data-table="{esc(name)}"' if name else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def row(cells: Sequence[str], **attrs: str) -> str:
    extra = "".join(f' {"class" if k == "cls" else "data-" + k.replace("_", "-")}="{esc(a)}"'
                    for k, a in attrs.items())
    return f"<tr{extra}>{''.join(cells)}</tr>"


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{esc(caption)}</figcaption></figure>"


def charts(figures: Sequence[str]) -> str:
    return f'<div class="charts">{"".join(figures)}</div>' if figures else ""


def section(id_: str, title: str, body: str) -> str:
    return f'<section id="{esc(id_)}"><h2>{esc(title)}</h2>{body}</section>'


def document(title: str, intro: str, sections: Sequence[str]) -> str:
    return ("<!DOCTYPE html>\n"
            f'<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1>{intro}"
            f"{''.join(sections)}</body></html>\n")
