"""Waterfalls in the terminal, on one shared time axis, with the moment of the response marked.

`text()` gives plain text (golden files, logs); `render()` the same lines styled for rich.
Every terminal view is drawn for `columns()`: the one width rule.
"""

from __future__ import annotations

import itertools
import math
import shutil
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

__all__ = ["MIN_WIDTH", "columns", "legend", "lines", "render", "text"]

WAITED, AFTER, RESPONSE = "█", "▒", "│"
# The narrowest terminal every view fits (a laptop split in two, a projector at a large font);
# a pipe or CI without COLUMNS gets PIPE_WIDTH, room for the whole table.
MIN_WIDTH, PIPE_WIDTH = 80, 120


def columns() -> int:
    """The width terminal output is drawn for: `COLUMNS` if set, else the terminal's, else
    `PIPE_WIDTH`; never under `MIN_WIDTH`."""
    return max(MIN_WIDTH, shutil.get_terminal_size((PIPE_WIDTH, 24)).columns)


def legend(width: int) -> list[str]:
    """The marks' meanings, wrapped between items (never cut) to `width`; the colours on lines
    of their own, so a narrow terminal keeps them together."""
    marks = [f"{WAITED} the user waited for it", f"{AFTER} {AFTER_MARK} ended after the response"]
    colours = [
        ("colour: " if i == 0 else "") + f"{name} {meaning}"
        for i, (_, name, meaning) in enumerate(FATES.values())
    ]
    rest = [item for item in legend_items() if not item.startswith(AFTER_MARK)]
    return (
        wrap([*marks, f"{RESPONSE} response sent"], width)
        + wrap(colours, width)
        + wrap(rest, width)
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


def _title(w: Waterfall, width: int) -> list[str]:
    """The waterfall's heading, wrapped between its clauses (never inside one)."""
    clauses = [f"{w.title} · trace {w.trace_id[:12]}…"]
    if w.response_ms is not None:
        clauses.append(f"response sent at {w.response_ms:,.0f} ms")
    if w.after_response:
        clauses.append(f"{len(w.after_response)} span(s) after it")
    fates = [fate(b) for b in w.failed]
    clauses += [f"{fates.count(f)} {f}" for f in ("failed", "cancelled") if f in fates]
    lines = [clauses[0] + (" ·" if len(clauses) > 1 else "")]
    for i, clause in enumerate(clauses[1:], start=1):
        clause += "," if i < len(clauses) - 1 else ""
        if len(lines[-1]) + 1 + len(clause) <= width:
            lines[-1] += " " + clause
        else:
            lines.append("  " + clause)
    return lines


def _ticks(axis_ms: float, cols: int, ticks: int) -> list[tuple[int, str, int]]:
    """(column, label, where the label starts) of each tick."""
    out = []
    for t in range(ticks + 1):
        col = round(t * (cols - 1) / ticks)
        label = f"{axis_ms * t / ticks:,.0f} ms"
        out.append((col, label, max(0, min(col - len(label) // 2, cols + 12 - len(label)))))
    return out


def _axis(axis_ms: float, cols: int) -> list[list[Segment]]:
    # As many ticks as fit (at most 4) with a space between their labels: "0 ms  127 ms".
    for ticks in (4, 3, 2, 1):
        placed = _ticks(axis_ms, cols, ticks)
        if all(b[2] > a[2] + len(a[1]) for a, b in itertools.pairwise(placed)):
            break
    marks = [" "] * cols
    labels = [" "] * (cols + 12)
    for col, label, start in placed:
        marks[col] = "╵"
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
        out.extend([(line, "bold")] for line in _title(w, width - 1))
        out.extend(_row(b, service, w.response_ms, axis, cols) for b in w.bars)
        out.append([("", "")])
    out.extend(_axis(axis, cols))
    out.extend([(line, "dim")] for line in legend(width - 1))
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
