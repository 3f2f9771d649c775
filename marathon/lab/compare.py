"""`marathon compare`: every strategy against one server, side by side on one time axis.

Usage::

    comparison = run("http://127.0.0.1:8000", knobs_header="email_latency_ms=800", repeat=3)
    Console().print(render(comparison))
    Path("compare.html").write_text(html(comparison))
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

import httpx
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from marathon import outcomes
from marathon.lab.measure import Measurement, register
from marathon.strategies import STRATEGIES
from marathon.views import svg as svg_view
from marathon.views import terminal
from marathon.views.waterfall import Waterfall, from_jaeger

__all__ = ["Comparison", "html", "render", "run", "trace_links"]


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _share(values: Sequence[bool | None]) -> bool | None:
    """True if all were, False if any was not, None if nobody could tell."""
    known = [v for v in values if v is not None]
    return None if not known else all(known)


def trace_links(base_url: str, trace_id: str | None, jaeger_ui_url: str | None) -> dict[str, str]:
    """Where one trace can be seen: `view` (the server's waterfall page), `json` (Jaeger's JSON
    shape) and, with a Jaeger UI, `jaeger`. The keys are the JSON API's (`marathon compare
    --json`, `POST /api/scenarios/{name}`); the notebooks show the same."""
    if not trace_id:
        return {}
    base = base_url.rstrip("/")
    links = {"view": f"{base}/traces/{trace_id}", "json": f"{base}/api/traces/{trace_id}"}
    if jaeger_ui_url:
        links["jaeger"] = f"{jaeger_ui_url.rstrip('/')}/trace/{trace_id}"
    return links


@dataclass
class Comparison:
    base_url: str
    knobs_header: str | None
    runs: dict[str, list[Measurement]]
    jaeger_ui_url: str | None = None
    live: bool = True  # False once a throwaway stack is gone: its links lead nowhere
    verdicts: dict[str, str] = field(default_factory=dict)  # filled by scenarios

    @property
    def repeat(self) -> int:
        return max((len(r) for r in self.runs.values()), default=0)

    def typical(self, strategy: str) -> Measurement:
        """The run whose client wait is the median one: its waterfall is shown."""
        runs = sorted(self.runs[strategy], key=lambda m: m.client_ms)
        return runs[(len(runs) - 1) // 2]

    def summary(self, strategy: str) -> dict[str, Any]:
        runs = self.runs[strategy]
        typical = self.typical(strategy)
        return {
            "strategy": strategy,
            "status": typical.status,
            "client_ms": _median([m.client_ms for m in runs]),
            "server_ms": _median([m.server_ms for m in runs]),
            "settled_ms": _median([m.settled_ms for m in runs]),
            "stored": _share([m.stored for m in runs]),
            "delivered": _share([m.delivered for m in runs]),
            "error": typical.error or typical.detail,
            "trace_id": typical.trace_id,
            "links": self.links(typical.trace_id),
            "verdict": self.verdicts.get(strategy),
            # The shown run judged (marathon.outcomes): what the page and the lesson match on.
            "verdicts": list(outcomes.judge(typical.outcome()).keys),
            "runs": [m.as_dict() for m in runs],
            "trace": typical.trace,  # the shown run's trace, in Jaeger's JSON shape
            "attempt_traces": typical.attempt_traces,  # its queued attempts' (linked) traces
        }

    def links(self, trace_id: str | None) -> dict[str, str]:
        return trace_links(self.base_url, trace_id, self.jaeger_ui_url) if self.live else {}

    def waterfalls(self) -> list[Waterfall]:
        shown = [self.typical(s) for s in self.runs]
        return [from_jaeger(m.trace, m.attempt_traces) for m in shown if m.trace]

    def traces(self) -> list[dict[str, Any]]:
        """Every run's traces (requests and queued attempts), each a valid trace of its own."""
        return [
            t
            for runs in self.runs.values()
            for m in runs
            for t in (m.trace, *m.attempt_traces)
            if t
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "knobs": self.knobs_header,
            "repeat": self.repeat,
            "jaeger_ui_url": self.jaeger_ui_url,
            "strategies": [self.summary(s) for s in self.runs],
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Comparison:
        """Back from `as_json()` (e.g. a scenario the server ran), the shown traces included."""
        runs: dict[str, list[Measurement]] = {}
        verdicts = {}
        for s in doc["strategies"]:
            runs[s["strategy"]] = [Measurement(**r) for r in s["runs"]]
            for m in runs[s["strategy"]]:
                if m.trace_id == s["trace_id"]:
                    m.trace, m.attempt_traces = s["trace"], s.get("attempt_traces") or []
            if s.get("verdict"):
                verdicts[s["strategy"]] = s["verdict"]
        return cls(doc["base_url"], doc["knobs"], runs, doc.get("jaeger_ui_url"), verdicts=verdicts)


def run(
    base_url: str,
    strategies: Sequence[str] = tuple(STRATEGIES),
    *,
    knobs_header: str | None = None,
    repeat: int = 1,
    jaeger_ui_url: str | None = None,
) -> Comparison:
    """Register `repeat` runners per strategy (round-robin), each waiting for its work to settle."""
    runs: dict[str, list[Measurement]] = {s: [] for s in strategies}
    with httpx.Client(base_url=base_url, timeout=60) as client:
        info = client.get("/api/info")  # also opens the connection: time only the requests
        info.raise_for_status()
        jaeger_ui_url = jaeger_ui_url or info.json().get("jaeger_ui_url")
        for _ in range(repeat):
            for strategy in strategies:
                runs[strategy].append(register(client, strategy, knobs_header=knobs_header))
    return Comparison(base_url, knobs_header, runs, jaeger_ui_url)


COLUMNS = (
    "strategy",
    "HTTP",
    "client waited",
    "server span",
    "all work done",
    "row stored",
    "email sent",
    "error",
)
# Narrow terminals drop whole columns, least telling first, rather than crush every one into
# "cl… wa…": (column, the narrowest width that still shows it).
DROP_BELOW = {"server span": 120, "all work done": 90}


def _ms(value: float | None, missing: str = "-") -> str:
    return missing if value is None else f"{value:,.0f} ms"


def _yes(value: bool | None) -> Text:
    return {True: Text("yes", "green"), False: Text("NO", "bold red"), None: Text("?")}[value]


def _yes_html(value: bool | None) -> str:
    return {True: '<span class="yes">yes</span>', False: '<span class="no">NO</span>', None: "?"}[
        value
    ]


def table(c: Comparison, *, width: int = 160) -> Table:
    """The outcomes, one row per strategy; fits `width` columns by dropping (never truncating)
    columns: the numbers never wrap, headers go on two lines, the error wraps at words."""
    median = " (median)" if c.repeat > 1 else ""
    t = Table(title=f"What the user waited for, and what happened to the work{median}")
    shown = [col for col in COLUMNS if width >= DROP_BELOW.get(col, 0)]
    for column in shown:
        header = column.replace(" ", "\n", 1) if column not in ("strategy", "error") else column
        if column == "error":
            t.add_column(column, ratio=1, min_width=12, overflow="fold")
        else:
            t.add_column(header, no_wrap=True)
    for strategy in c.runs:
        s = c.summary(strategy)
        cells: dict[str, str | Text] = {
            "strategy": strategy,
            "HTTP": str(s["status"]),
            "client waited": _ms(s["client_ms"]),
            "server span": _ms(s["server_ms"]),
            "all work done": _ms(s["settled_ms"], "never"),
            "row stored": _yes(s["stored"]),
            "email sent": _yes(s["delivered"]),
            "error": Text(s["error"] or "", "red"),
        }
        t.add_row(*(cells[col] for col in shown))
    return t


def verdicts(c: Comparison) -> Table:
    """One line per strategy on what the user was told against what happened; wraps at words."""
    t = Table.grid(padding=(0, 1))
    t.add_column(justify="right", no_wrap=True, style="bold")
    t.add_column(overflow="fold")
    for strategy, verdict in c.verdicts.items():
        t.add_row(f"{strategy}:", verdict)
    return t


def render(c: Comparison, *, width: int = 110) -> RenderableType:
    """Waterfalls on one time axis, the outcome table, verdicts, and where each trace lives."""
    parts: list[RenderableType] = [
        terminal.render(c.waterfalls(), width=width),
        table(c, width=width),
    ]
    if c.verdicts:
        parts.append(verdicts(c))
    links = Text("traces:\n" if c.live else "", "bold")
    for strategy in c.runs if c.live else ():
        trace_links = c.links(c.typical(strategy).trace_id)
        line = "  ".join(trace_links.get(k, "") for k in ("view", "jaeger") if k in trace_links)
        links.append(f"  {strategy:<16} {line}\n", style="")
    parts.append(links)
    return Group(*parts)


def html(c: Comparison, title: str = "marathon: the orderings side by side") -> str:
    """The same comparison as one self-contained page."""
    rows = []
    for strategy in c.runs:
        s = c.summary(strategy)
        cells = [
            escape(strategy),
            str(s["status"]),
            _ms(s["client_ms"]),
            _ms(s["server_ms"]),
            _ms(s["settled_ms"], "never"),
            *(_yes_html(v) for v in (s["stored"], s["delivered"])),
            escape(s["error"] or ""),
            " ".join(f'<a href="{escape(u)}">{k}</a>' for k, u in s["links"].items()),
        ]
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in (*COLUMNS, "trace"))
    verdicts = "".join(f"<li><b>{escape(k)}</b>: {escape(v)}</li>" for k, v in c.verdicts.items())
    knobs = f"<p>Knobs: <code>{escape(c.knobs_header)}</code></p>" if c.knobs_header else ""
    body = (
        f"{knobs}<div class=scroll>{svg_view.svg(c.waterfalls())}</div>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        + (f"<ul>{verdicts}</ul>" if verdicts else "")
    )
    return svg_view.html_page(title, body)
