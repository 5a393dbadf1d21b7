"""Inline SVG charts: scatter, overlaid histograms, lines (ROC) and grouped bars.

Small on purpose: every chart is a string of SVG with its own axes, so the report is one
self-contained file with nothing to fetch. Colours come from CSS classes (``page.CSS``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np

W, H = 340, 250  # chart size in px, legend rows below come on top of H
LEFT, RIGHT, TOP, BOTTOM = 50, 12, 12, 40


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    kind: str  # CSS class: original, unlearned, oracle, front, ...


@dataclass(frozen=True)
class Scale:
    lo: float
    hi: float
    pixels: tuple[float, float]  # where lo and hi land
    log: bool = False

    def __call__(self, v: float) -> float:
        lo, hi, v = ((math.log10(self.lo), math.log10(self.hi), math.log10(v)) if self.log
                     else (self.lo, self.hi, v))
        t = 0.5 if hi == lo else (v - lo) / (hi - lo)
        return self.pixels[0] + t * (self.pixels[1] - self.pixels[0])

    def ticks(self) -> list[float]:
        if self.log:
            a, b = math.floor(math.log10(self.lo)), math.ceil(math.log10(self.hi))
            step = max(1, (b - a) // 5)
            return [10.0 ** e for e in range(a, b + 1, step) if self.lo <= 10.0 ** e <= self.hi]
        span = self.hi - self.lo
        raw = span / 5 if span > 0 else 1.0
        mag = 10 ** math.floor(math.log10(raw))
        step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
        first = math.ceil(self.lo / step) * step
        return [first + i * step for i in range(int((self.hi - first) / step + 1e-9) + 1)]


def _tick_text(v: float, log: bool) -> str:
    if log:
        return f"1e{round(math.log10(v))}"
    return f"{v:g}" if abs(v) < 1e4 else f"{v:.0e}"


def limits(values: Sequence[float], *, pad: float = 0.05, log: bool = False,
           ) -> tuple[float, float]:
    """A padded range covering ``values`` (powers of ten for a log axis)."""
    v = [x for x in values if math.isfinite(x) and (x > 0 or not log)]
    if not v:
        return (0.1, 1.0) if log else (0.0, 1.0)
    lo, hi = min(v), max(v)
    if log:
        a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
        return 10.0 ** (a - 1 if a == b else a), 10.0 ** b
    if hi == lo:
        return lo - 1, hi + 1
    return lo - pad * (hi - lo), hi + pad * (hi - lo)


def _legend(legend: Sequence[tuple[str, str]]) -> tuple[str, int]:
    """Legend entries in rows under the x-axis label (never over the data); (svg, height)."""
    parts, row, x = [], 0, float(LEFT)
    for kind, text in legend:
        width = 16 + 5.6 * len(text) + 12  # swatch, text at ~5.6 px a character, gap
        if x + width > W - RIGHT and x > LEFT:
            row, x = row + 1, float(LEFT)
        ly = H + 10 + 14 * row
        parts.append(f'<rect class="{kind}" x="{x:.0f}" y="{ly - 8}" width="9" height="9"/>'
                     f'<text class="legend" x="{x + 13:.0f}" y="{ly}">{escape(text)}</text>')
        x += width
    return "".join(parts), (14 * (row + 1) + 6 if legend else 0)


def _frame(x: Scale, y: Scale, x_label: str, y_label: str, body: str, title: str,
           legend: Sequence[tuple[str, str]] = (), x_ticks: bool = True) -> str:
    # Inline SVG in HTML needs no xmlns: the report names no URL at all.
    keys, extra = _legend(legend)
    parts = [f'<svg class="chart" viewBox="0 0 {W} {H + extra}" width="{W}" '
             f'height="{H + extra}" role="img"><title>{escape(title)}</title>',
             f'<rect class="plot" x="{LEFT}" y="{TOP}" width="{W - LEFT - RIGHT}" '
             f'height="{H - TOP - BOTTOM}"/>']
    for t in x.ticks() if x_ticks else []:
        px = x(t)
        parts.append(f'<line class="grid" x1="{px:.1f}" x2="{px:.1f}" y1="{TOP}" '
                     f'y2="{H - BOTTOM}"/><text class="tick" x="{px:.1f}" y="{H - BOTTOM + 14}" '
                     f'text-anchor="middle">{_tick_text(t, x.log)}</text>')
    for t in y.ticks():
        py = y(t)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{py:.1f}" '
                     f'y2="{py:.1f}"/><text class="tick" x="{LEFT - 4}" y="{py + 4:.1f}" '
                     f'text-anchor="end">{_tick_text(t, y.log)}</text>')
    parts.append(body)
    parts.append(f'<text class="label" x="{(LEFT + W - RIGHT) / 2}" y="{H - 6}" '
                 f'text-anchor="middle">{escape(x_label)}</text>')
    parts.append(f'<text class="label" transform="translate(14 {(TOP + H - BOTTOM) / 2}) '
                 f'rotate(-90)" text-anchor="middle">{escape(y_label)}</text>')
    parts.append(keys)
    parts.append("</svg>")
    return "".join(parts)


def _scales(xs: Sequence[float], ys: Sequence[float], *, x_log: bool = False,
            x_range: tuple[float, float] | None = None,
            y_range: tuple[float, float] | None = None) -> tuple[Scale, Scale]:
    xr = x_range or limits(xs, log=x_log)
    yr = y_range or limits(ys)
    return (Scale(xr[0], xr[1], (LEFT, W - RIGHT), x_log),
            Scale(yr[0], yr[1], (H - BOTTOM, TOP)))


def scatter(points: Sequence[Point], x_label: str, y_label: str, *, title: str,
            front: Sequence[tuple[float, float]] = (), x_log: bool = False,
            legend: Sequence[tuple[str, str]] = (),
            y_range: tuple[float, float] | None = None) -> str:
    """Points with a tooltip each; ``front`` is drawn as a line through them."""
    x, y = _scales([p.x for p in points], [p.y for p in points], x_log=x_log, y_range=y_range)
    body = []
    if len(front) > 1:
        path = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in front)
        body.append(f'<polyline class="front" points="{path}"/>')
    labels: dict[tuple[str, str], list[str]] = {}  # coincident points share one label
    for p in points:
        labels.setdefault((f"{x(p.x):.0f}", f"{y(p.y):.0f}"), []).append(p.label)
    for (px, py), names in labels.items():
        text = ", ".join(dict.fromkeys(names))
        right = float(px) > LEFT + 0.6 * (W - LEFT - RIGHT)  # keep labels inside the chart
        body.append(f'<text class="point" x="{float(px) + (-7 if right else 7):.1f}" '
                    f'y="{float(py) - 6:.1f}" text-anchor="{"end" if right else "start"}">'
                    f'{escape(text)}</text>')
    for p in points:
        shape = (f'<rect x="{x(p.x) - 5:.1f}" y="{y(p.y) - 5:.1f}" width="10" height="10"'
                 if p.kind in ("oracle", "original") else
                 f'<circle cx="{x(p.x):.1f}" cy="{y(p.y):.1f}" r="4.5"')
        body.append(f'{shape} class="{p.kind}"><title>{escape(p.label)}: '
                    f'({p.x:.4g}, {p.y:.4g})</title></{shape.split()[0][1:]}>')
    return _frame(x, y, x_label, y_label, "".join(body), title, legend)


def histograms(series: Sequence[tuple[str, str, np.ndarray]], x_label: str, *, title: str,
               bins: int = 20, x_range: tuple[float, float] | None = None) -> str:
    """Overlaid density histograms; ``series`` holds (legend text, CSS class, values)."""
    values = [np.asarray(v, dtype=np.float64) for _, _, v in series]
    pooled = np.concatenate(values) if values else np.zeros(0)
    lo, hi = x_range or ((float(pooled.min()), float(pooled.max())) if len(pooled) else (0, 1))
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    dens = [np.histogram(v, bins=edges, density=True)[0] if len(v) else np.zeros(bins)
            for v in values]
    x, y = _scales([lo, hi], [0.0], x_range=(lo, hi),
                   y_range=(0.0, max(1e-12, max((float(d.max()) for d in dens), default=1.0))
                            * 1.05))
    body = []
    for (_, kind, _), d in zip(series, dens, strict=True):
        pts = [f"{x(edges[0]):.1f},{y(0):.1f}"]
        for i, h in enumerate(d):
            pts += [f"{x(edges[i]):.1f},{y(h):.1f}", f"{x(edges[i + 1]):.1f},{y(h):.1f}"]
        pts.append(f"{x(edges[-1]):.1f},{y(0):.1f}")
        body.append(f'<polygon class="hist {kind}" points="{" ".join(pts)}"/>')
    legend = [(kind, f"{text} (n={len(v)})") for text, kind, v in series]
    return _frame(x, y, x_label, "density", "".join(body), title, legend)


def lines(series: Sequence[tuple[str, str, np.ndarray, np.ndarray]], x_label: str,
          y_label: str, *, title: str, diagonal: bool = False,
          x_range: tuple[float, float] = (0.0, 1.0)) -> str:
    """Lines over ``x_range`` x [0, 1] (ROC curves, CDFs); ``series`` holds (legend, CSS
    class, x, y)."""
    x, y = _scales([], [], x_range=x_range, y_range=(0.0, 1.0))
    body = []
    if diagonal:
        body.append(f'<line class="chance" x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(1)}"/>')
    for _, kind, xs, ys in series:
        pts = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in zip(xs, ys, strict=True))
        body.append(f'<polyline class="line {kind}" points="{pts}"/>')
    return _frame(x, y, x_label, y_label, "".join(body), title,
                  [(kind, text) for text, kind, _, _ in series])


def bars(groups: Sequence[str], series: Sequence[tuple[str, str, Sequence[float | None]]],
         y_label: str, *, title: str, y_max: float = 100.0) -> str:
    """Grouped bars: one group per entry of ``groups``, one bar per series (None: no bar)."""
    n_g, n_s = max(1, len(groups)), max(1, len(series))
    x = Scale(0, n_g, (LEFT, W - RIGHT))
    y = Scale(0, y_max, (H - BOTTOM, TOP))
    width = (x(1) - x(0)) * 0.8 / n_s
    body = []
    for gi, g in enumerate(groups):
        for si, (text, kind, vals) in enumerate(series):
            v = vals[gi]
            if v is None:
                continue
            left = x(gi) + (x(1) - x(0)) * 0.1 + si * width
            body.append(f'<rect class="{kind}" x="{left:.1f}" y="{y(v):.1f}" '
                        f'width="{width:.1f}" height="{y(0) - y(v):.1f}"><title>'
                        f'{escape(g)} · {escape(text)}: {v:.2f}</title></rect>')
        body.append(f'<text class="tick" x="{x(gi + 0.5):.1f}" y="{H - BOTTOM + 14}" '
                    f'text-anchor="middle">{escape(g)}</text>')
    return _frame(x, y, "", y_label, "".join(body), title,
                  [(kind, text) for text, kind, _ in series], x_ticks=False)
