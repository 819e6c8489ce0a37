"""Server-rendered SVG charts: stacked bars over time and paired bars per type (no JS)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#b07aa1",
    "#76b7b2",
    "#edc948",
    "#9c755f",
    "#ff9da7",
    "#bab0ac",
    "#e15759",
)
WIDTH, HEIGHT = 600, 150
LEFT, BOTTOM, TOP = 54, 18, 8


def colours_for(names: Sequence[str]) -> dict[str, str]:
    """Return a stable colour per name (sorted, so a type keeps its colour across charts)."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(sorted(names))}


@dataclass
class Series:
    name: str
    values: list[float]
    colour: str


@dataclass
class Chart:
    svg: SafeString
    legend: list[tuple[str, str]] = field(default_factory=list)
    total: float = 0


def _nice_max(value: float) -> float:
    """Round `value` up to 1, 2 or 5 times a power of ten (for the y axis)."""
    if value <= 0:
        return 1
    magnitude = 1.0
    while magnitude * 10 <= value:
        magnitude *= 10
    while magnitude > value:
        magnitude /= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def stacked_bars(
    *,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
    tick_every: int = 10,
    title: str,
) -> Chart:
    """Draw one bar per label, each stacked from `series` (same length as `labels`)."""
    n = max(len(labels), 1)
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - 4, HEIGHT - BOTTOM - TOP
    slot = plot_w / n
    bar_w = max(slot * 0.8, 1)
    rects: list[tuple[object, ...]] = []
    for i, label in enumerate(labels):
        y = float(TOP + plot_h)
        for s in series:
            value = s.values[i]
            if value <= 0:
                continue
            h = value / top * plot_h
            y -= h
            x = LEFT + i * slot + (slot - bar_w) / 2
            tip = f"{label} · {s.name}: {fmt(value)}"
            rects.append((f"{x:.1f}", f"{y:.1f}", f"{bar_w:.1f}", f"{h:.1f}", s.colour, tip))
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>',
        rects,
    )
    last = len(labels) - 1
    # Every tick_every-th label, and the last one unless it would touch the one before.
    shown = [i for i in range(len(labels)) if i % tick_every == 0]
    if last >= 0 and last not in shown and (not shown or last - shown[-1] > tick_every / 2):
        shown.append(last)
    ticks = format_html_join(
        "",
        '<text x="{}" y="{}" class="tick" text-anchor="{}">{}</text>',
        (
            (
                f"{LEFT + i * slot + slot / 2:.1f}",
                HEIGHT - 4,
                "end" if i == last else "middle",
                labels[i],
            )
            for i in shown
        ),
    )
    empty = (
        format_html(
            '<text x="{}" y="{}" class="empty" text-anchor="middle">nothing yet</text>',
            LEFT + plot_w / 2,
            TOP + plot_h / 2,
        )
        if not rects
        else ""
    )
    svg = format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{title}">'
        '<line x1="{l}" y1="{base}" x2="{w}" y2="{base}" class="axis"/>'
        '<line x1="{l}" y1="{t}" x2="{w}" y2="{t}" class="grid"/>'
        '<text x="{lx}" y="{ty}" class="tick" text-anchor="end">{top}</text>'
        '<text x="{lx}" y="{base}" class="tick" text-anchor="end">0</text>'
        "{bars}{ticks}{empty}</svg>",
        w=WIDTH,
        h=HEIGHT,
        title=title,
        l=LEFT,
        t=TOP,
        base=TOP + plot_h,
        lx=LEFT - 4,
        ty=TOP + 8,
        top=fmt(top),
        bars=bars,
        ticks=ticks,
        empty=empty,
    )
    legend = [(s.name, s.colour) for s in series if any(v > 0 for v in s.values)]
    return Chart(svg=svg, legend=legend, total=sum(totals))


def paired_bars(
    *,
    rows: Sequence[tuple[str, float, float]],
    fmt: Callable[[float], str],
    first: str,
    second: str,
    title: str,
) -> Chart:
    """Draw two horizontal bars (e.g. p50 and p95) per row, on one linear scale."""
    row_h, label_w, width = 30, 150, WIDTH
    height = max(len(rows), 1) * row_h + 6
    top = _nice_max(max((max(a, b) for _, a, b in rows), default=0))
    plot_w = width - label_w - 70
    parts: list[SafeString] = []
    for i, (name, a, b) in enumerate(rows):
        y = 4 + i * row_h
        wa, wb = a / top * plot_w, b / top * plot_w
        parts.append(
            format_html(
                '<text x="{lx}" y="{ty}" class="label" text-anchor="end">{name}</text>'
                '<rect x="{x}" y="{y1}" width="{wb}" height="10" class="p95">'
                "<title>{name} {second}: {fb}</title></rect>"
                '<rect x="{x}" y="{y2}" width="{wa}" height="10" class="p50">'
                "<title>{name} {first}: {fa}</title></rect>"
                '<text x="{vx}" y="{ty}" class="value">{fa} / {fb}</text>',
                lx=label_w - 6,
                ty=y + 14,
                name=name,
                x=label_w,
                y1=y + 2,
                y2=y + 13,
                wa=f"{max(wa, 1):.1f}",
                wb=f"{max(wb, 1):.1f}",
                fa=fmt(a),
                fb=fmt(b),
                first=first,
                second=second,
                vx=f"{label_w + max(wa, wb) + 6:.1f}",
            )
        )
    if not rows:
        parts.append(
            format_html(
                '<text x="{}" y="20" class="empty" text-anchor="middle">nothing yet</text>',
                width / 2,
            )
        )
    svg = format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}">{}</svg>',
        width,
        height,
        title,
        mark_safe("".join(parts)),  # noqa: S308 (each part built by format_html)
    )
    return Chart(svg=svg, legend=[(first, "#4e79a7"), (second, "#a0cbe8")])
