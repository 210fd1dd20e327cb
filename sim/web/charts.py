"""Charts as inline SVG, made on the server: no script, no download, readable on paper.

Every point carries a ``<title>`` (the browser shows it on hover) with its numbers; each series
has its own colour (Okabe–Ito, safe for colour blindness), its own dash pattern and marker, so
that a black-and-white print still tells them apart."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
DASHES = ("", "6 3", "2 3", "8 3 2 3")
MARKERS = ("circle", "square", "diamond", "triangle")
MINUS = "\u2212"


@dataclass
class Series:
    """One line with its 95% band: values per x (NaN where missing)."""

    label: str
    mean: list[float]
    low: list[float]
    high: list[float]


def number(value: float, digits: int = 1, sign: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    text = f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
    if float(text) == 0:
        text = f"{0:.{digits}f}"
    return text.replace("-", MINUS)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0]
    if high - low < 1e-12:
        low, high = low - 1, high + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 0.5 and len(ticks) < 20:
        ticks.append(round(value, 10))
        value += step
    return ticks


def marker(kind: str, x: float, y: float, colour: str, tip: str) -> str:
    title = f"<title>{escape(tip)}</title>"
    if kind == "square":
        return f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{colour}">{title}</rect>'
    if kind == "diamond":
        return (f'<polygon points="{x:.1f},{y - 4.5:.1f} {x + 4.5:.1f},{y:.1f} {x:.1f},{y + 4.5:.1f} '
                f'{x - 4.5:.1f},{y:.1f}" fill="{colour}">{title}</polygon>')
    if kind == "triangle":
        return (f'<polygon points="{x:.1f},{y - 4.5:.1f} {x + 4.5:.1f},{y + 3.5:.1f} {x - 4.5:.1f},{y + 3.5:.1f}" '
                f'fill="{colour}">{title}</polygon>')
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}">{title}</circle>'


def band_chart(title: str, xs: list, series: list[Series], unit: str = "", digits: int = 1, zero: bool = False,
               sign: bool = False, first_style: int = 0, width: int = 620, height: int = 250,
               band_name: str = "95% CI") -> str:
    """Lines with 95% bands over ``xs`` (years); ``zero``: a line at 0 (for differences).
    ``first_style``: the style index of the first series (so a scenario keeps its colour)."""
    left, right, top, bottom = 62, 12, 30, 58
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for s in series for v in (*s.low, *s.high, *s.mean) if v is not None and math.isfinite(v)]
    if zero:
        values.append(0.0)
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if not zero and low >= 0:
        low = 0.0
    ticks = nice_ticks(low, high)
    y_min, y_max = min(ticks[0], low), max(ticks[-1], high)
    if y_max - y_min < 1e-12:
        y_max = y_min + 1
    n = len(xs)

    def px(i: int) -> float:
        return left + (plot_w * (i + 0.5) / n if n else 0)

    def py(v: float) -> float:
        return top + plot_h * (1 - (v - y_min) / (y_max - y_min))

    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="12">',
           f'<text x="{left}" y="16" font-size="13.5" font-weight="bold">{escape(title)}</text>']
    for t in ticks:
        y = py(t)
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{number(t, 0 if float(t).is_integer() else 2)}</text>')
    if unit:
        out.append(f'<text transform="translate(12 {top + plot_h / 2:.0f}) rotate(-90)" text-anchor="middle">'
                   f'{escape(unit)}</text>')
    if zero:
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{py(0):.1f}" y2="{py(0):.1f}" stroke="#000" '
                   'stroke-width="1"/>')
    every = max(1, math.ceil(n / 12))
    for i, x in enumerate(xs):
        if i % every == 0:
            out.append(f'<text x="{px(i):.1f}" y="{top + plot_h + 15}" text-anchor="middle">{escape(str(x))}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>')
    for k, s in enumerate(series):
        style = first_style + k
        colour, dash, shape = COLOURS[style % len(COLOURS)], DASHES[style % len(DASHES)], MARKERS[style % len(MARKERS)]
        ok = [i for i in range(n) if all(math.isfinite(v[i]) for v in (s.mean, s.low, s.high))]
        if ok:
            upper = " ".join(f"{px(i):.1f},{py(s.high[i]):.1f}" for i in ok)
            lower = " ".join(f"{px(i):.1f},{py(s.low[i]):.1f}" for i in reversed(ok))
            out.append(f'<polygon points="{upper} {lower}" fill="{colour}" fill-opacity="0.16" stroke="none"/>')
            line = " ".join(f"{px(i):.1f},{py(s.mean[i]):.1f}" for i in ok)
            dashing = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"{dashing}/>')
            for i in ok:
                out.append(f'<line x1="{px(i):.1f}" x2="{px(i):.1f}" y1="{py(s.low[i]):.1f}" y2="{py(s.high[i]):.1f}" '
                           f'stroke="{colour}" stroke-width="1"/>')
                tip = (f"{s.label}, {xs[i]}: {number(s.mean[i], digits, sign)} "
                       f"[{band_name} {number(s.low[i], digits, sign)} to {number(s.high[i], digits, sign)}]"
                       + (f" {unit}" if unit else ""))
                out.append(marker(shape, px(i), py(s.mean[i]), colour, tip))
        legend_x = left + (k % 2) * (plot_w / 2)
        legend_y = height - 26 + (k // 2) * 14
        out.append(f'<line x1="{legend_x:.0f}" x2="{legend_x + 22:.0f}" y1="{legend_y - 4}" y2="{legend_y - 4}" '
                   f'stroke="{colour}" stroke-width="2"' + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
        out.append(marker(shape, legend_x + 11, legend_y - 4, colour, s.label))
        out.append(f'<text x="{legend_x + 28:.0f}" y="{legend_y}">{escape(short(s.label, 40))}</text>')
    out.append("</svg>")
    return "\n".join(out)


def short(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def interval_chart(title: str, rows: list[dict], unit: str = "€ million", width: int = 620) -> str:
    """One row per name: the mean as a dot, its 95% interval as a bar, a line at 0; rows whose
    interval lies wholly below 0 in red. ``rows``: ``name, mean, low, high, tip``."""
    left, right, top, row_h = 130, 20, 30, 22
    height = top + row_h * len(rows) + 34
    plot_w = width - left - right
    values = [v for r in rows for v in (r["low"], r["high"], r["mean"], 0.0) if math.isfinite(v)]
    ticks = nice_ticks(min(values), max(values), 6) if values else [0.0, 1.0]
    x_min, x_max = min(ticks[0], min(values, default=0)), max(ticks[-1], max(values, default=1))
    if x_max - x_min < 1e-12:
        x_max = x_min + 1

    def px(v: float) -> float:
        return left + plot_w * (v - x_min) / (x_max - x_min)

    bottom = top + row_h * len(rows)
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(title)}" '
           'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">',
           f'<text x="4" y="16" font-size="12.5" font-weight="bold">{escape(title)}</text>']
    for t in ticks:
        out.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{top}" y2="{bottom}" stroke="#ddd"/>')
        out.append(f'<text x="{px(t):.1f}" y="{bottom + 14}" text-anchor="middle">{number(t, 0 if float(t).is_integer() else 1, sign=t != 0)}</text>')
    out.append(f'<text x="{left + plot_w / 2:.0f}" y="{bottom + 28}" text-anchor="middle">gap ({escape(unit)}): '
               'budget − cost paid; left of 0: short</text>')
    out.append(f'<line x1="{px(0):.1f}" x2="{px(0):.1f}" y1="{top}" y2="{bottom}" stroke="#000"/>')
    for i, r in enumerate(rows):
        y = top + row_h * (i + 0.5)
        short_sure = math.isfinite(r["high"]) and r["high"] < 0
        colour = "#C00000" if short_sure else "#0072B2"
        weight = ' font-weight="bold"' if r.get("strong") else ""
        out.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end"{weight}>{escape(r["name"])}</text>')
        tip = f"<title>{escape(r['tip'])}</title>"
        if math.isfinite(r["low"]) and math.isfinite(r["high"]):
            out.append(f'<line x1="{px(r["low"]):.1f}" x2="{px(r["high"]):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                       f'stroke="{colour}" stroke-width="5" stroke-opacity="0.45">{tip}</line>')
        if math.isfinite(r["mean"]):
            out.append(f'<circle cx="{px(r["mean"]):.1f}" cy="{y:.1f}" r="4.5" fill="{colour}">{tip}</circle>')
    out.append("</svg>")
    return "\n".join(out)
