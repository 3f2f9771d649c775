"""Waterfalls as standalone SVG, and as self-contained HTML pages around it.

Deterministic output (golden files); every mark carries data attributes (`data-span`,
`data-status`, `data-after-response`, `data-response-ms`) so tests and scripts can read it.
The SVG has a `viewBox` and no fixed size: it scales to the width of whatever holds it (a page,
a projector), and no text in it is smaller than 12 units, so at its natural width or wider every
label is at least 12 CSS pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from math import ceil

from marathon.views.waterfall import (
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

__all__ = ["html_page", "svg"]

LABEL_W, DUR_W, ROW_H, TITLE_H, GAP, PAD = 300, 110, 20, 28, 14, 10
# compact: no title row (the request bar is labelled with its strategy), narrower columns, for
# several waterfalls on one slide. Its label column grows (up to LABEL_W) to fit the longest
# label, "send confirmation · wait_until": a cut owner would hide the lesson.
COMPACT_LABEL_W, COMPACT_DUR_W, COMPACT_GAP, COMPACT_WIDTH = 200, 90, 8, 760
COMPACT_ROW_H = 17  # five strategies' rows and the legend under a 1280x720 slide's question
INDENT = 8  # per depth
CHAR_W = 7.9  # one character of the 13-unit monospace label


def _tint(colour: str) -> str:
    """The colour mixed two parts in three with white: the gaps between a hatching's stripes."""
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{c + (255 - c) * 2 // 3:02x}" for c in rgb)


# Each fate's colour (FATES, the one table every view draws from) fills its bars; work that
# ended after the response has the same colour, hatched.
STYLE = (
    """
.t{font:600 14px system-ui,sans-serif;fill:#111}
.l{font:13px ui-monospace,monospace;fill:#222}.l.req{font-weight:700}
.d{font:12px ui-monospace,monospace;fill:#333;text-anchor:end}
.bar{stroke-width:1}.bar.cancelled{stroke-dasharray:4 2}
.resp{stroke:#d32f2f;stroke-width:2;stroke-dasharray:5 3}
.rl{font:600 12px system-ui,sans-serif;fill:#c62828}
.axis{stroke:#999}.grid{stroke:#eee}.tick{font:12px system-ui,sans-serif;fill:#555}
.legend{font:12px system-ui,sans-serif;fill:#333}.legend .marks{font-size:12px}
.waited-swatch{fill:#777;stroke:#555}.after-swatch{fill:url(#after-any);stroke:#555}
"""
    + "".join(
        f".{f}{{fill:{c};stroke:#333}}.{f}.after{{fill:url(#after-{f})}}"
        for f, (c, _, _) in FATES.items()
    )
    + "\n"
)


def _hatch(name: str, colour: str) -> str:
    return (
        f'<pattern id="after-{name}" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{_tint(colour)}"/>'
        f'<rect width="3" height="6" fill="{colour}"/></pattern>'
    )


DEFS = (
    "<defs>"
    + "".join(_hatch(f, c) for f, (c, _, _) in FATES.items())
    + _hatch("any", "#777777")
    + "</defs>"
)


# (swatch class, label, its short form for a compact drawing, so its legend keeps to one row):
# a bar's colour says what happened to it; hatched, that nobody waited for it. Only the
# swatches a drawing uses are shown.
LEGEND = [
    *((fate, meaning, meaning.split(" (")[0]) for fate, (_, _, meaning) in FATES.items()),
    ("waited-swatch", "solid: the user waited for it", "the user waited"),
    ("after-swatch", "hatched: ended after the response", "after the response"),
    ("resp", "response sent", "response sent"),
]


def _f(x: float) -> str:
    return f"{x:.1f}"


def _bar_class(bar: Bar) -> str:
    return fate(bar) + (" after" if bar.after_response else "")


def _full_label(bar: Bar, service: str, name: str | None = None) -> str:
    name = name or (bar.name if bar.service == service else f"{bar.name} [{bar.service}]")
    return (f"{LINK_MARK} " if bar.linked else "") + name + owner_label(bar)  # ↪: a job attempt


def _label(bar: Bar, service: str, width: float = LABEL_W, name: str | None = None) -> str:
    label = _full_label(bar, service, name)
    room = int((width - INDENT * bar.depth) / CHAR_W)
    return label if len(label) <= room else label[: room - 1] + "…"


def _compact_label_w(waterfalls: Sequence[Waterfall]) -> int:
    """The compact label column: wide enough for every label (and a gap before the bars),
    from COMPACT_LABEL_W up to LABEL_W; only a label longer than that is cut."""
    needed = COMPACT_LABEL_W
    for w in waterfalls:
        service = next((b.service for b in w.bars if b.request), "")
        for bar in w.bars:
            label = _full_label(bar, service, w.title if bar.request else None)
            needed = max(needed, ceil(INDENT * bar.depth + len(label) * CHAR_W) + 2 * INDENT)
    return min(needed, LABEL_W)


def _tooltip(bar: Bar) -> str:
    parts = [f"{bar.name} ({bar.service})", f"{bar.start_ms:,.1f} → {bar.end_ms:,.1f} ms"]
    if bar.http_status is not None:
        parts.append(f"HTTP {bar.http_status}")
    if bar.after_response:
        parts.append("ended after the response was sent")
    if bar.owner:
        parts.append(f"owner: {bar.owner}")
    if bar.outcome:
        parts.append(f"outcome: {bar.outcome}")
    if bar.message:
        parts.append(bar.message)
    return " · ".join(parts)


def svg(
    waterfalls: Sequence[Waterfall],
    *,
    width: int | None = None,
    axis_ms: float | None = None,
    compact: bool = False,
) -> str:
    """Every waterfall on one shared time axis, one block each, response line in red.

    `width` is the viewBox's (the drawing scales to its container); `compact` drops the title
    rows and names each request bar after its strategy (a slide with several waterfalls)."""
    label_w, dur_w = (_compact_label_w(waterfalls), COMPACT_DUR_W) if compact else (LABEL_W, DUR_W)
    title_h, gap = (0, COMPACT_GAP) if compact else (TITLE_H, GAP)
    row_h = COMPACT_ROW_H if compact else ROW_H
    baseline = row_h - 4 if compact else 14  # of a row's text, from the row's top
    # A wider label column narrows the bars, not the text: the drawing keeps its width, so the
    # page's columns (the lesson's is about 780 px at 1280) still draw 12-unit text at 12 px.
    width = width or (COMPACT_WIDTH if compact else 980)
    axis = axis_ms or max((w.end_ms for w in waterfalls), default=1.0) or 1.0
    plot_w = width - label_w - dur_w - 2 * PAD

    def x(ms: float) -> float:
        return PAD + label_w + ms / axis * plot_w

    out: list[str] = []
    y = PAD
    for w in waterfalls:
        service = next((b.service for b in w.bars if b.request), "")
        head = f"{w.title} · trace {w.trace_id}"
        strategy = escape(w.strategy or "")
        out.append(f'<g class="waterfall" data-trace="{w.trace_id}" data-strategy="{strategy}">')
        if not compact:
            out.append(f'<text class="t" x="{PAD}" y="{y + 18}">{escape(head)}</text>')
        top = y + title_h
        for i, bar in enumerate(w.bars):
            row_y = top + i * row_h
            left, right = x(bar.start_ms), max(x(bar.end_ms), x(bar.start_ms) + 1.5)
            name = w.title if compact and bar.request else None
            label = escape(_label(bar, service, label_w, name))
            cls = "l req" if bar.request else "l"
            indent = PAD + INDENT * bar.depth
            out.append(f'<text class="{cls}" x="{indent}" y="{row_y + baseline}">{label}</text>')
            out.append(
                f'<rect class="bar {_bar_class(bar)}" x="{_f(left)}" y="{row_y + 3}" '
                f'width="{_f(right - left)}" height="{row_h - 6}" rx="2" '
                f'data-span="{escape(bar.name)}" data-span-id="{escape(bar.span_id)}" '
                f'data-status="{bar.status}" '
                f'data-after-response="{str(bar.after_response).lower()}" '
                f'data-owner="{escape(bar.owner or "")}" '
                f'data-outcome="{escape(bar.outcome or "")}" '
                f'data-start-ms="{_f(bar.start_ms)}" data-end-ms="{_f(bar.end_ms)}">'
                f"<title>{escape(_tooltip(bar))}</title></rect>"
            )
            out.append(
                f'<text class="d" x="{width - PAD}" y="{row_y + baseline}">'
                f"{bar.duration_ms:,.0f} ms {mark(bar)}</text>"
            )
        bottom = top + len(w.bars) * row_h
        if w.response_ms is not None:
            rx = _f(x(w.response_ms))
            out.append(
                f'<line class="resp" x1="{rx}" x2="{rx}" y1="{top - 4}" y2="{bottom + 2}" '
                f'data-response-ms="{_f(w.response_ms)}"><title>response sent at '
                f"{w.response_ms:,.1f} ms</title></line>"
            )
            # Near the right edge the label goes on the line's left, or it would be cut off.
            left = w.response_ms / axis > 0.7
            anchor = ' text-anchor="end"' if left else ""
            lx = x(w.response_ms) + (-4 if left else 4)
            if not compact:  # compact has no title row to hold it: the request bar's time says it
                out.append(
                    f'<text class="rl" x="{_f(lx)}" y="{top + 1}"{anchor}>'
                    f"response sent · {w.response_ms:,.0f} ms</text>"
                )
        out.append("</g>")
        y = bottom + gap

    grid = []
    for t in range(5):
        gx = _f(x(axis * t / 4))
        grid.append(f'<line class="grid" x1="{gx}" x2="{gx}" y1="{PAD}" y2="{y}"/>')
        grid.append(
            f'<text class="tick" x="{gx}" y="{y + 14}" text-anchor="middle">'
            f"{axis * t / 4:,.0f} ms</text>"
        )
    axis_line = f'<line class="axis" x1="{_f(x(0))}" x2="{_f(x(axis))}" y1="{y}" y2="{y}"/>'
    legend_y = y + (28 if compact else 36)
    bars = [b for w in waterfalls for b in w.bars]
    used: set[str] = {fate(b) for b in bars}
    used |= {"after-swatch" if b.after_response else "waited-swatch" for b in bars}
    if any(w.response_ms is not None for w in waterfalls):
        used.add("resp")
    items: list[str] = []
    lx = row = 0
    for cls, full, short in LEGEND:
        if cls not in used:
            continue
        label = short if compact else full
        room = 36 + round(len(label) * 6.6)  # swatch, label, gap: a new row when it is full
        if lx and lx + room > width - 2 * PAD:
            lx, row = 0, row + 1
        ly = 16 * row
        swatch = (
            f'<line class="resp" x1="{lx + 7}" x2="{lx + 7}" y1="{ly - 12}" y2="{ly + 3}"/>'
            if cls == "resp"
            else f'<rect class="bar {cls}" x="{lx}" width="14" height="10" y="{ly - 9}"/>'
        )
        items.append(f'{swatch}<text x="{lx + 20}" y="{ly}">{escape(label)}</text>')
        lx += room
    # The marks beside these bars, and the owners after their names, on more lines of text.
    notes = [n for n in wrap(legend_items(bars), int((width - 2 * PAD) / 6.6)) if n]
    for i, line in enumerate(notes, start=row + 1):
        items.append(f'<text class="marks" y="{16 * i}">{escape(line)}</text>')
    legend = f'<g class="legend" transform="translate({PAD},{legend_y})">{"".join(items)}</g>'

    height = legend_y + 16 * (len(notes) + row) + PAD
    # No width or height: the viewBox keeps the proportions and the container sets the size.
    classes = "waterfalls compact" if compact else "waterfalls"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{classes}" '
        f'viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMin meet" role="img" '
        f'aria-label="Trace waterfalls">'
        f"<style>{STYLE}</style>{DEFS}{''.join(grid)}{axis_line}{''.join(out)}{legend}</svg>"
    )


PAGE_STYLE = """
body{font:16px/1.45 system-ui,sans-serif;margin:1.5rem auto;max-width:1240px;padding:0 1rem}
svg.waterfalls{width:100%;height:auto;display:block}
body{color:#111}
h1{font-size:1.4rem}table{border-collapse:collapse;margin:1rem 0}
td,th{padding:.35rem .7rem;text-align:left;border-bottom:1px solid #ddd}
th{background:#f4f4f4}.no{color:#b00020;font-weight:700}.yes{color:#1b5e20}
.scroll{overflow-x:auto}code{font-size:.9em}
"""


def html_page(title: str, body: str) -> str:
    """A self-contained page: no scripts, no external assets."""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{PAGE_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
