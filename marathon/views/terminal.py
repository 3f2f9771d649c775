"""Waterfalls in the terminal, on one shared time axis, with the moment of the response marked.

`text()` gives plain text (golden files, logs); `render()` the same lines styled for rich.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.console import Group
from rich.text import Text

from marathon.views.waterfall import (
    AFTER_MARK,
    FATES,
    LINK_MARK,
    Bar,
    Waterfall,
    fate,
    legend_items,
    mark,
    owner_label,
    wrap,
)

__all__ = ["LEGEND", "lines", "render", "text"]

WAITED, AFTER, RESPONSE = "█", "▒", "│"


LEGEND = "\n".join(
    wrap(
        [
            f"{WAITED} the user waited for it",
            f"{AFTER} {AFTER_MARK} ended after the response",
            f"{RESPONSE} response sent",
            "colour: " + " · ".join(f"{name} {meaning}" for _, name, meaning in FATES.values()),
            *(item for item in legend_items() if not item.startswith(AFTER_MARK)),
        ],
        100,
    )
)
LABEL, DURATION = 37, 14

Segment = tuple[str, str]  # (text, rich style)


def _style(bar: Bar) -> str:
    """What happened to the span (FATES, as in every view); ▒ says nobody waited for it."""
    return FATES[fate(bar)][0]


def _label(bar: Bar, service: str) -> str:
    name = bar.name if bar.service == service else f"{bar.name} [{bar.service}]"
    label = " " * bar.depth + (f"{LINK_MARK} " if bar.linked else "") + name + owner_label(bar)
    return (label[: LABEL - 2] + "…" if len(label) > LABEL - 1 else label).ljust(LABEL)


def _row(
    bar: Bar, service: str, response_ms: float | None, axis_ms: float, cols: int
) -> list[Segment]:
    scale = (cols - 1) / axis_ms
    first = min(cols - 1, math.floor(bar.start_ms * scale))
    last = max(first, min(cols - 1, math.ceil(bar.end_ms * scale) - 1))
    cells = [" "] * cols
    for i in range(first, last + 1):
        cells[i] = AFTER if bar.after_response else WAITED
    line_at = None if response_ms is None else min(cols - 1, round(response_ms * scale))
    segments: list[Segment] = [(_label(bar, service), "bold" if bar.request else "")]
    for i, cell in enumerate(cells):
        if i == line_at:
            cell, style = RESPONSE, "bold red"
        else:
            style = _style(bar) if cell != " " else ""
        if segments[-1][1] == style and len(segments) > 1:  # one segment per run of a style
            segments[-1] = (segments[-1][0] + cell, style)
        else:
            segments.append((cell, style))
    segments.append((f"{bar.duration_ms:>{DURATION - 5},.0f} ms {mark(bar) or ' '}", _style(bar)))
    return segments


def _title(w: Waterfall) -> str:
    sent = f"response sent at {w.response_ms:,.0f} ms" if w.response_ms is not None else ""
    after = f", {len(w.after_response)} span(s) after it" if w.after_response else ""
    fates = [fate(b) for b in w.failed]
    lost = "".join(f", {fates.count(f)} {f}" for f in ("failed", "cancelled") if f in fates)
    return f"{w.title} · trace {w.trace_id[:12]}… · {sent}{after}{lost}"


def _axis(axis_ms: float, cols: int) -> list[list[Segment]]:
    ticks = 4
    marks = [" "] * cols
    labels = [" "] * (cols + 12)
    for t in range(ticks + 1):
        col = round(t * (cols - 1) / ticks)
        marks[col] = "╵"
        label = f"{axis_ms * t / ticks:,.0f} ms"
        start = max(0, min(col - len(label) // 2, cols + 12 - len(label)))
        labels[start : start + len(label)] = label
    pad = " " * LABEL
    return [[(pad + "".join(marks), "dim")], [(pad + "".join(labels).rstrip(), "dim")]]


def lines(
    waterfalls: Sequence[Waterfall], *, width: int = 110, axis_ms: float | None = None
) -> list[list[Segment]]:
    """Every waterfall on one time axis (the longest one's, unless `axis_ms` is given)."""
    cols = max(20, width - LABEL - DURATION)
    axis = axis_ms or max((w.end_ms for w in waterfalls), default=1.0) or 1.0
    out: list[list[Segment]] = []
    for w in waterfalls:
        service = next((b.service for b in w.bars if b.request), "")
        out.append([(_title(w), "bold")])
        out.extend(_row(b, service, w.response_ms, axis, cols) for b in w.bars)
        out.append([("", "")])
    out.extend(_axis(axis, cols))
    out.extend([(line, "dim")] for line in LEGEND.splitlines())
    return out


def text(waterfalls: Sequence[Waterfall], *, width: int = 110, axis_ms: float | None = None) -> str:
    rows = lines(waterfalls, width=width, axis_ms=axis_ms)
    return "\n".join("".join(t for t, _ in row).rstrip() for row in rows) + "\n"


def render(
    waterfalls: Sequence[Waterfall], *, width: int = 110, axis_ms: float | None = None
) -> Group:
    styled = []
    for row in lines(waterfalls, width=width, axis_ms=axis_ms):
        line = Text(no_wrap=True, overflow="crop")
        for segment, style in row:
            line.append(segment, style=style or None)
        styled.append(line)
    return Group(*styled)
