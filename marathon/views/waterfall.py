"""The waterfall of one trace, as data: bars on a time axis and the moment the response was sent.

Built from the Jaeger JSON shape (`marathon.tracing.jaeger_json`), so it reads traces from this
app, from a file saved out of Jaeger UI, or from a real Jaeger's query API alike. The views
(`marathon.views.terminal`, `marathon.views.svg`, `Waterfall.rows()` for notebooks) only lay it out.

Usage::

    doc = json.loads(Path("trace.json").read_text())
    [waterfall] = parse(doc)
    waterfall.response_ms                     # when the user got the answer
    [b.name for b in waterfall.after_response]  # work the user did not wait for
    from_jaeger(request_trace, linked=attempt_traces)  # a queued job's attempts drawn in
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from marathon.tracing.jaeger_query import linked_from

__all__ = [
    "FATES",
    "MARKS",
    "OWNERS",
    "SEMCONV",
    "Bar",
    "Waterfall",
    "attribute",
    "fate",
    "from_jaeger",
    "legend_items",
    "load",
    "mark",
    "owner_label",
    "parse",
    "wrap",
]

Status = Literal["ok", "error", "cancelled"]
STRATEGY_TAG = "marathon.strategy"
OWNER_TAG, OUTCOME_TAG = "marathon.owner", "marathon.outcome"


# The stable semantic conventions' names and the deprecated ones they replace: a trace may carry
# either (OTEL_SEMCONV_STABILITY_OPT_IN, or an older app), and every reader accepts both.
SEMCONV = {
    "http.request.method": "http.method",
    "http.response.status_code": "http.status_code",
    "url.full": "http.url",
    "db.query.text": "db.statement",
    "db.system.name": "db.system",
}


def attribute(tags: dict[str, Any], stable: str) -> Any:
    """A span's attribute by its stable name, else by the deprecated one."""
    return tags[stable] if stable in tags else tags.get(SEMCONV.get(stable, ""))


# Every mark the views put beside a bar, and what it means: each view's legend lists these.
AFTER_MARK, LINK_MARK = "↷", "↪"
OUTCOME_MARKS = {
    "failed": "✗",
    "cancelled_at_shutdown": "⊘",
    "cancelled_by_freeze": "❄",
    "dropped": "∅",
}
MARKS = [
    (AFTER_MARK, "ended after the response"),
    (LINK_MARK, "linked attempt (its own trace)"),
    (OUTCOME_MARKS["failed"], "failed"),
    (OUTCOME_MARKS["cancelled_at_shutdown"], "cancelled at shutdown"),
    (OUTCOME_MARKS["cancelled_by_freeze"], "cancelled by the serverless freeze"),
    (OUTCOME_MARKS["dropped"], "dropped: never ran"),
]
# A bar's colour says what happened to that span itself, in every view (terminal, SVG, the
# page, notebooks); whether anyone waited for it is the hatching (`▒` in the terminal), apart.
Fate = Literal["finished", "failed", "cancelled"]
FATES: dict[Fate, tuple[str, str, str]] = {  # fate: (colour, its name, what it means)
    "finished": ("#2e7d32", "green", "finished"),
    "failed": ("#d32f2f", "red", "failed"),
    "cancelled": ("#9e9e9e", "grey", "cancelled (or cut off with its parent)"),
}
# How much later than a cancelled span the work it awaited may have ended and still have been
# cut off with it (the other service notices the hang-up a moment after).
CUT_OFF_MS = 2.0
CLIENT_CLOSED = 499  # the server's status for "the client hung up", nginx's convention


# Who answers for background work (`· owner` after a name; none shown: awaited by the request).
OWNERS = [
    ("wait_until", "the app drains it at shutdown"),
    ("nobody", "a bare task, shutdown cancels it"),
    ("queue", "a worker's attempt, durable, retried"),
]


@dataclass(frozen=True)
class Bar:
    """One span, with times in milliseconds from the start of its trace."""

    span_id: str
    parent_id: str | None
    name: str
    service: str
    kind: str
    depth: int
    start_ms: float
    end_ms: float
    status: Status
    message: str | None
    after_response: bool  # ended after the response was sent: nobody waited for it
    request: bool  # the request span whose end is the response
    linked: bool = False  # placed under its parent by a span link (a job attempt), not a child
    # Background or deferred work: who answers for it, what became of it (docs/tracing.md).
    owner: str | None = None  # request | wait_until | nobody | queue
    outcome: str | None = None  # finished | failed | cancelled_at_shutdown | ... | dropped
    http_status: int | None = None  # http.response.status_code (or http.status_code)

    @property
    def duration_ms(self) -> float:
        return self.end_ms - self.start_ms


@dataclass(frozen=True)
class Waterfall:
    trace_id: str
    strategy: str | None
    bars: tuple[Bar, ...]  # depth first; siblings by start time
    response_ms: float | None  # the request span's end: when the response was sent

    @property
    def title(self) -> str:
        return self.strategy or (self.bars[0].name if self.bars else self.trace_id)

    @property
    def end_ms(self) -> float:
        return max((b.end_ms for b in self.bars), default=0.0)

    @property
    def after_response(self) -> list[Bar]:
        return [b for b in self.bars if b.after_response]

    @property
    def failed(self) -> list[Bar]:
        return [b for b in self.bars if b.status != "ok"]

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per span: ready for a DataFrame or a plotting library."""
        return [
            {
                "trace_id": self.trace_id,
                "strategy": self.strategy,
                "response_ms": self.response_ms,
                **asdict(b),
                "duration_ms": b.duration_ms,
            }
            for b in self.bars
        ]


def _status(tags: dict[str, Any]) -> tuple[Status, str | None]:
    if tags.get("otel.status_code") != "ERROR" and tags.get("error") is not True:
        return "ok", None
    message = tags.get("otel.status_description")
    cancelled = isinstance(message, str) and message.startswith("cancelled")
    return ("cancelled" if cancelled else "error"), message


_FATE_OF: dict[Status, Fate] = {"ok": "finished", "error": "failed", "cancelled": "cancelled"}


def fate(bar: Bar) -> Fate:
    """What happened to the span itself: the colour of its bar in every view."""
    return _FATE_OF[bar.status]


def _cut_off(bars: list[Bar]) -> list[Bar]:
    """Work a cancelled span was awaiting went down with it: its last child, if still running
    then (and so on down), and a server's record of the hang-up (499). Their own spans say
    "ok" (the HTTP client's instrumentation ignores cancellation) or "error" (the server saw
    its client go): either would read as something else that failed, such as the email API."""
    last_child: dict[str | None, Bar] = {}
    for bar in bars:
        if bar.parent_id not in last_child or (bar.start_ms, bar.span_id) > (
            last_child[bar.parent_id].start_ms,
            last_child[bar.parent_id].span_id,
        ):
            last_child[bar.parent_id] = bar
    out: dict[str, Bar] = {}
    for bar in bars:  # depth first: a parent is settled before its children
        parent = out.get(bar.parent_id) if bar.parent_id else None
        if parent is not None and parent.status == "cancelled" and bar.status != "cancelled":
            awaited = last_child[bar.parent_id] is bar and bar.end_ms >= parent.end_ms - CUT_OFF_MS
            if awaited or bar.http_status == CLIENT_CLOSED:
                bar = replace(
                    bar,
                    status="cancelled",
                    outcome=bar.outcome or parent.outcome,
                    message=bar.message or f"cancelled with {parent.name}",
                )
        out[bar.span_id] = bar
    return list(out.values())


def legend_items(bars: Iterable[Bar] | None = None) -> list[str]:
    """What every mark and owner means, one item each (the views' legends wrap them); with
    `bars`, only the marks and owners those bars show."""
    if bars is None:
        return [
            *(f"{m} {meaning}" for m, meaning in MARKS),
            *(f"· {owner}: {meaning}" for owner, meaning in OWNERS),
            "no owner shown: the request awaited it",
        ]
    shown = list(bars)
    marks = {mark(b) for b in shown} | ({LINK_MARK} if any(b.linked for b in shown) else set())
    owners = {b.owner for b in shown}
    items = [f"{m} {meaning}" for m, meaning in MARKS if m in marks]
    items += [f"· {owner}: {meaning}" for owner, meaning in OWNERS if owner in owners]
    if owners & {o for o, _ in OWNERS} and owners - {o for o, _ in OWNERS}:
        items.append("no owner shown: the request awaited it")
    return items


def wrap(items: list[str], width: int) -> list[str]:
    """Items joined by three spaces, in lines of at most `width` characters."""
    lines = [""]
    for item in items:
        joined = f"{lines[-1]}   {item}" if lines[-1] else item
        if len(joined) <= width or not lines[-1]:
            lines[-1] = joined
        else:
            lines.append(item)
    return lines


def mark(bar: Bar) -> str:
    """What became of the work, as one character ("" for finished work the user waited for)."""
    if bar.outcome in OUTCOME_MARKS:
        return OUTCOME_MARKS[bar.outcome]
    if bar.status != "ok":  # a trace without outcomes (another app, an older file)
        return OUTCOME_MARKS["failed" if bar.status == "error" else "cancelled_at_shutdown"]
    return AFTER_MARK if bar.after_response else ""


def owner_label(bar: Bar) -> str:
    """` · wait_until` after the name of deferred work; nothing for work the request awaited."""
    return f" · {bar.owner}" if bar.owner and bar.owner != "request" else ""


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def from_jaeger(trace: dict[str, Any], linked: Sequence[dict[str, Any]] = ()) -> Waterfall:
    """A waterfall from one Jaeger trace object (`{"traceID", "spans", "processes"}`).

    `linked`: other traces whose spans link to this one (a queued job's attempts,
    `jaeger_query.linked_from`): drawn under the span they link to, in this one waterfall,
    while each trace's JSON stays a trace of its own.
    """
    spans = list(trace["spans"])
    if not spans:
        return Waterfall(trace["traceID"], None, (), None)
    service_of: dict[int, str] = {}  # process ids are per trace: resolve them trace by trace
    for doc in (trace, *linked):
        processes = doc.get("processes") or {}
        if doc is not trace:
            spans += doc["spans"]
        for s in doc["spans"]:
            service_of[id(s)] = processes.get(s.get("processID"), {}).get("serviceName", "?")
    ids = {s["spanID"] for s in spans}
    origin = min(s["startTime"] for s in spans)
    tags_of = {s["spanID"]: {t["key"]: t["value"] for t in s.get("tags", [])} for s in spans}

    def parent(span: dict[str, Any]) -> str | None:
        """The CHILD_OF parent; failing that, a linked span in this view (FOLLOWS_FROM)."""
        refs = span.get("references") or []
        for kind in ("CHILD_OF", "FOLLOWS_FROM"):
            for ref in refs:
                if ref["refType"] == kind and ref["spanID"] in ids:
                    return str(ref["spanID"])
        return None

    def is_linked(span: dict[str, Any]) -> bool:
        refs = span.get("references") or []
        return not any(r["refType"] == "CHILD_OF" and r["spanID"] in ids for r in refs) and any(
            r["refType"] == "FOLLOWS_FROM" and r["spanID"] in ids for r in refs
        )

    # The request span: the one our app tags with the strategy, else the first server root.
    request = next((s for s in spans if STRATEGY_TAG in tags_of[s["spanID"]]), None)
    if request is None:
        roots = [s for s in spans if parent(s) is None]
        servers = [s for s in roots if tags_of[s["spanID"]].get("span.kind") == "server"]
        request = min(servers or roots, key=lambda s: s["startTime"])
    response_us = request["startTime"] + request["duration"] - origin

    children: defaultdict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        children[parent(span)].append(span)
    bars: list[Bar] = []

    def walk(span: dict[str, Any], depth: int) -> None:
        tags = tags_of[span["spanID"]]
        status, message = _status(tags)
        start_us, end_us = span["startTime"] - origin, span["startTime"] + span["duration"] - origin
        bars.append(
            Bar(
                span_id=span["spanID"],
                parent_id=parent(span),
                name=span["operationName"],
                service=service_of[id(span)],
                kind=str(tags.get("span.kind", "internal")),
                depth=depth,
                start_ms=start_us / 1000,
                end_ms=end_us / 1000,
                status=status,
                message=message,
                after_response=end_us > response_us,
                request=span is request,
                linked=is_linked(span),
                owner=_str_or_none(tags.get(OWNER_TAG)),
                outcome=_str_or_none(tags.get(OUTCOME_TAG)),
                http_status=_int_or_none(attribute(tags, "http.response.status_code")),
            )
        )
        for child in sorted(children[span["spanID"]], key=lambda s: (s["startTime"], s["spanID"])):
            walk(child, depth + 1)

    for root in sorted(children[None], key=lambda s: (s["startTime"], s["spanID"])):
        walk(root, 0)
    strategy = tags_of[request["spanID"]].get(STRATEGY_TAG)
    return Waterfall(trace["traceID"], strategy, tuple(_cut_off(bars)), response_us / 1000)


def parse(doc: dict[str, Any] | list[Any]) -> list[Waterfall]:
    """Waterfalls from Jaeger's envelope (`{"data": [...]}`), a list, or one trace object;
    traces linked to another one in the same document join its waterfall."""
    if isinstance(doc, dict) and "data" in doc:
        traces = doc["data"] or []
    elif isinstance(doc, dict):
        traces = [doc]
    else:
        traces = doc
    # A queued job's attempts saved with their request are drawn inside its waterfall.
    linked = {id(t): linked_from(traces, t["traceID"]) for t in traces}
    inside = {id(a) for attempts in linked.values() for a in attempts}
    return [from_jaeger(t, linked[id(t)]) for t in traces if id(t) not in inside]


def load(path: str | Path) -> list[Waterfall]:
    return parse(json.loads(Path(path).read_text()))
