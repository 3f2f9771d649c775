"""Each span of a trace, in full, as HTML: its attributes, its events (an exception's type,
message and, when recorded, stack) and its links. The trace page (`/traces/{id}`) lists them
under the waterfall; a click on a bar opens its span (`static/trace.js`).

Spans hold no personal data (`marathon.tracing.scrub` keeps it out), so all their attributes
are shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from html import escape
from typing import Any

__all__ = ["details"]


def _value(value: Any) -> str:
    text = str(value)
    if "\n" in text or len(text) > 120:  # a stack trace, a long SQL query
        return f"<pre>{escape(text)}</pre>"
    return f"<code>{escape(text)}</code>"


def _table(rows: Iterable[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th scope=row>{escape(k)}</th><td>{_value(v)}</td></tr>" for k, v in rows)
    return f"<table class=attributes>{body}</table>" if body else ""


def _failed(tags: Mapping[str, Any]) -> bool:
    return tags.get("error") is True or str(tags.get("otel.status_code", "")).upper() == "ERROR"


def _span(span: Mapping[str, Any], start_us: int, services: Mapping[str, str]) -> str:
    tags = {t["key"]: t["value"] for t in span.get("tags", [])}
    service = services.get(span.get("processID", ""), "")
    offset_ms = (span["startTime"] - start_us) / 1000
    state = " · failed" if _failed(tags) else ""
    summary = (
        f"<b>{escape(span['operationName'])}</b> · {escape(service)} · "
        f"{span['duration'] / 1000:,.1f} ms, from {offset_ms:,.1f} ms{state}"
    )
    parts = [f"<h3>Attributes</h3>{_table(sorted(tags.items()))}"]
    events = []
    for log in span.get("logs", []):
        fields = {f["key"]: f["value"] for f in log.get("fields", [])}
        when = (log["timestamp"] - start_us) / 1000
        name = fields.pop("event", "event")
        events.append(
            f'<li class=event data-event="{escape(str(name))}"><b>{escape(str(name))}</b>'
            f" at {when:,.1f} ms{_table(fields.items())}</li>"
        )
    if events:
        parts.append(f"<h3>Events</h3><ul class=events>{''.join(events)}</ul>")
    links = []
    for ref in span.get("references", []):
        kind = "parent" if ref["refType"] == "CHILD_OF" else "link (follows from)"
        target = f"/traces/{escape(ref['traceID'])}#span-{escape(ref['spanID'])}"
        links.append(
            f'<li>{kind}: <a href="{target}">span {escape(ref["spanID"])}</a> of trace'
            f" <code>{escape(ref['traceID'])}</code></li>"
        )
    if links:
        parts.append(f"<h3>Links</h3><ul>{''.join(links)}</ul>")
    span_id = escape(span["spanID"])
    failed = " failed" if state else ""
    return (
        f'<details class="span{failed}" id="span-{span_id}" data-span-id="{span_id}">'
        f"<summary>{summary}</summary>{''.join(parts)}</details>"
    )


def details(traces: Iterable[Mapping[str, Any]]) -> str:
    """Every span of these traces (Jaeger's JSON; a request and its attempts), in start order,
    times from the first trace's start."""
    traces = list(traces)
    spans = [(t, s) for t in traces for s in t["spans"]]
    if not spans:
        return ""
    start_us = min(s["startTime"] for _, s in spans)
    out = []
    for trace, span in sorted(spans, key=lambda ts: ts[1]["startTime"]):
        services = {pid: p["serviceName"] for pid, p in trace.get("processes", {}).items()}
        out.append(_span(span, start_us, services))
    began = datetime.fromtimestamp(start_us / 1e6, UTC).strftime("%H:%M:%S UTC")
    return (
        f'<section class="spans" aria-labelledby="spans-h"><h2 id="spans-h">Spans</h2>'
        f'<p class="hint">Started at {began}. Click a bar above, or a span below, for its'
        f" attributes, events (an exception's type and message) and links.</p>"
        f"{''.join(out)}</section>"
    )
