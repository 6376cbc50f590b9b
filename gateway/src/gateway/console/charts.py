"""Server-rendered SVG charts: bars or lines over labelled buckets, no script, no third-party
asset. Each chart is an ``<svg role="img">`` with a ``<title>`` and an ``aria-label`` that
says what it shows, followed by the same numbers as a table (in a ``<details>``), so a screen
reader or a keyboard user gets every value. Everything from the data is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
HEIGHT = 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 12, 12, 34
_MAX_X_LABELS = 8
STYLES = ("primary", "alt")


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[float]


@dataclass(frozen=True, slots=True)
class Scale:
    top: float
    ticks: tuple[float, ...]


def nice_scale(maximum: float, *, ticks: int = 4, integer: bool = True) -> Scale:
    """An axis from 0 to a round number at or above ``maximum``, with at most ``ticks``
    steps of 1, 2 or 5 times a power of ten (whole numbers for counts). Nothing to show
    (zero, negative or not a number) gives the axis 0..1."""
    if not math.isfinite(maximum) or maximum <= 0:
        return Scale(1.0, (0.0, 1.0))
    raw = maximum / max(ticks, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    if integer:
        step = max(1.0, float(round(step)))
    count = math.ceil(maximum / step - 1e-9)
    return Scale(round(step * count, 10), tuple(round(step * i, 10) for i in range(count + 1)))


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def _coord(value: float) -> str:
    return f"{value:.1f}"


def _summary(title: str, labels: Sequence[str], series: Sequence[Series]) -> str:
    parts = []
    for one in series:
        values = list(one.values)
        total = sum(values)
        if not values or total == 0:
            parts.append(f"{one.name}: none")
            continue
        peak = max(range(len(values)), key=lambda i: values[i])
        label = labels[peak] if peak < len(labels) else str(peak + 1)
        parts.append(
            f"{one.name}: {_number(total)} in all, at most {_number(values[peak])} ({label})"
        )
    return f"{title}. " + "; ".join(parts) + "."


def _axes(scale: Scale, labels: Sequence[str], plot_w: float, plot_h: float) -> list[str]:
    out = []
    for tick in scale.ticks:
        y = _TOP + plot_h - tick / scale.top * plot_h
        out.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_coord(_LEFT + plot_w)}" '
            f'y1="{_coord(y)}" y2="{_coord(y)}"/>'
            f'<text x="{_LEFT - 6}" y="{_coord(y + 4)}" text-anchor="end">'
            f"{escape(_number(tick))}</text>"
        )
    base = _TOP + plot_h
    out.append(
        f'<line class="axis" x1="{_LEFT}" x2="{_coord(_LEFT + plot_w)}" '
        f'y1="{_coord(base)}" y2="{_coord(base)}"/>'
    )
    n = len(labels)
    every = max(1, math.ceil(n / _MAX_X_LABELS))
    slot = plot_w / max(n, 1)
    for i in range(0, n, every):
        x = _LEFT + slot * (i + 0.5)
        out.append(
            f'<text x="{_coord(x)}" y="{_coord(base + 18)}" text-anchor="middle">'
            f"{escape(labels[i])}</text>"
        )
    return out


def _bars(scale: Scale, series: Sequence[Series], n: int, plot_w: float, plot_h: float) -> str:
    slot = plot_w / max(n, 1)
    width = slot * 0.8 / max(len(series), 1)
    out = []
    for k, one in enumerate(series):
        style = STYLES[k % len(STYLES)]
        for i, value in enumerate(list(one.values)[:n]):
            height = max(0.0, value) / scale.top * plot_h
            if height <= 0:
                continue
            x = _LEFT + slot * i + slot * 0.1 + width * k
            out.append(
                f'<rect class="bar {style}" x="{_coord(x)}" y="{_coord(_TOP + plot_h - height)}" '
                f'width="{_coord(width)}" height="{_coord(height)}"/>'
            )
    return "".join(out)


def _lines(scale: Scale, series: Sequence[Series], n: int, plot_w: float, plot_h: float) -> str:
    slot = plot_w / max(n, 1)
    out = []
    for k, one in enumerate(series):
        style = STYLES[k % len(STYLES)]
        points = " ".join(
            f"{_coord(_LEFT + slot * (i + 0.5))},"
            f"{_coord(_TOP + plot_h - max(0.0, value) / scale.top * plot_h)}"
            for i, value in enumerate(list(one.values)[:n])
        )
        if points:
            out.append(f'<polyline class="line {style}" points="{points}"/>')
    return "".join(out)


def _table(caption: str, axis: str, labels: Sequence[str], series: Sequence[Series]) -> list[str]:
    head = "".join(f'<th scope="col" class="num">{escape(one.name)}</th>' for one in series)
    rows = []
    for i, label in enumerate(labels):
        cells = "".join(
            f'<td class="num">{escape(_number(one.values[i]))}</td>'
            if i < len(one.values)
            else "<td></td>"
            for one in series
        )
        rows.append(f'<tr><th scope="row">{escape(label)}</th>{cells}</tr>')
    return [
        "<details><summary>The numbers</summary>",
        f'<div class="table-wrap"><table><caption>{escape(caption)}</caption>',
        f'<thead><tr><th scope="col">{escape(axis)}</th>{head}</tr></thead>',
        f"<tbody>{''.join(rows)}</tbody></table></div></details>",
    ]


def chart(
    *,
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    kind: str = "bar",
    axis: str = "Period",
) -> Markup:
    """A figure: the SVG chart of ``series`` over ``labels`` (``kind`` "bar" or "line"), a
    legend when there is more than one series, and the numbers as a table."""
    if kind not in ("bar", "line"):
        raise ValueError(f"unknown chart kind {kind!r}")
    n = len(labels)
    peak = max((max(one.values, default=0) for one in series), default=0)
    scale = nice_scale(float(peak))
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    draw = _bars if kind == "bar" else _lines
    title_id = f"{chart_id}-title"
    parts = [
        f'<figure class="figure" id="{escape(chart_id)}">',
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'aria-label="{escape(_summary(title, labels, series))}" '
        f'aria-describedby="{escape(title_id)}" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{escape(title_id)}">{escape(title)}</title>',
        *_axes(scale, labels, plot_w, plot_h),
        draw(scale, series, n, plot_w, plot_h),
        "</svg>",
    ]
    if len(series) > 1:
        items = "".join(
            f'<li><span class="swatch {STYLES[k % len(STYLES)]}" aria-hidden="true"></span>'
            f"{escape(one.name)}</li>"
            for k, one in enumerate(series)
        )
        parts.append(f'<ul class="legend" aria-label="Legend">{items}</ul>')
    parts.extend(_table(title, axis, labels, series))
    parts.append("</figure>")
    return Markup("".join(parts))  # noqa: S704 (every value above is escaped)
