"""Charts drawn on the server as inline SVG: no chart library, no script, nothing fetched.

A chart is a list of labels (days, tiers, segments) and one or more series of integer values;
:func:`bars` draws grouped bars, :func:`line` lines. Colours come from the stylesheet (each series
has a class ``s1``, ``s2`` ...), so the SVG carries no inline style and passes the content
security policy. Numbers on the axis are written in the page's digits. Each chart has a ``<title>``
and a table-like ``<desc>`` for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from kimia.web.panel.fmt import number

WIDTH, HEIGHT = 640, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 12, 12, 40


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[int]


def _scale(series: Sequence[Series]) -> int:
    top = int(max((max(s.values, default=0) for s in series), default=0))
    if top <= 4:
        return 4  # small counts (or none): a grid of 0..4, not four rows labelled 0
    step: int = 10 ** (len(str(top)) - 1)
    return ((top + step - 1) // step) * step


def _frame(title: str, labels: Sequence[str], series: Sequence[Series], lang: str, top: int) -> list[str]:
    plot_h = HEIGHT - _TOP - _BOTTOM
    desc = "; ".join(f"{s.name}: " + ", ".join(f"{label} {number(v, lang)}" for label, v in zip(labels, s.values)) for s in series)
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg" direction="ltr">',
             f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>"]
    for i in range(5):  # the grid, with its values
        value = top * i // 4
        y = _TOP + plot_h - plot_h * i / 4
        parts.append(f'<line class="grid" x1="{_LEFT}" y1="{y:.1f}" x2="{WIDTH - _RIGHT}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(number(value, lang))}</text>')
    return parts


def _x_labels(labels: Sequence[str], slot: float) -> list[str]:
    every = max(1, len(labels) // 10)  # at most about ten labels under the axis
    return [f'<text class="axis" x="{_LEFT + slot * (i + 0.5):.1f}" y="{HEIGHT - _BOTTOM + 16}" text-anchor="middle">'
            f"{escape(label)}</text>" for i, label in enumerate(labels) if i % every == 0]


def bars(title: str, labels: Sequence[str], series: Sequence[Series], lang: str) -> Markup:
    """Grouped bars: one group per label, one bar per series."""
    top = _scale(series)
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    slot = plot_w / max(1, len(labels))
    bar_w = slot * 0.8 / max(1, len(series))
    parts = _frame(title, labels, series, lang, top)
    for k, s in enumerate(series):
        for i, value in enumerate(s.values):
            h = plot_h * max(0, value) / top
            x = _LEFT + slot * i + slot * 0.1 + bar_w * k
            parts.append(f'<rect class="s{k + 1}" x="{x:.1f}" y="{_TOP + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}">'
                         f"<title>{escape(s.name)} · {escape(labels[i])}: {escape(number(value, lang))}</title></rect>")
    parts += _x_labels(labels, slot)
    parts.append("</svg>")
    return Markup("".join(parts))


def line(title: str, labels: Sequence[str], series: Sequence[Series], lang: str) -> Markup:
    """One line per series over the labels."""
    top = _scale(series)
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    slot = plot_w / max(1, len(labels))
    parts = _frame(title, labels, series, lang, top)
    for k, s in enumerate(series):
        points = " ".join(f"{_LEFT + slot * (i + 0.5):.1f},{_TOP + plot_h - plot_h * max(0, v) / top:.1f}"
                          for i, v in enumerate(s.values))
        parts.append(f'<polyline class="s{k + 1}" fill="none" points="{points}"><title>{escape(s.name)}</title></polyline>')
    parts += _x_labels(labels, slot)
    parts.append("</svg>")
    return Markup("".join(parts))


def legend(series: Sequence[Series]) -> Markup:
    """The series' names beside their colours (an HTML list the stylesheet colours)."""
    items = "".join(f'<li><span class="swatch s{k + 1}"></span>{escape(s.name)}</li>' for k, s in enumerate(series))
    return Markup(f'<ul class="legend">{items}</ul>')
