"""Traces in the JSON shape of Jaeger's query API (`GET /api/traces/{id}`).

One format for everything: the app serves it, Jaeger UI's "JSON file" upload reads it, and
`fetch()` reads the same shape from a real Jaeger (`JAEGER_QUERY_URL`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

__all__ = ["fetch", "merge", "response", "trace_from_spans"]

_KINDS = {
    SpanKind.INTERNAL: "internal",
    SpanKind.SERVER: "server",
    SpanKind.CLIENT: "client",
    SpanKind.PRODUCER: "producer",
    SpanKind.CONSUMER: "consumer",
}


def _tag(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        return {"key": key, "type": "int64", "value": value}
    if isinstance(value, float):
        return {"key": key, "type": "float64", "value": value}
    if isinstance(value, Sequence) and not isinstance(value, str):
        value = ",".join(str(v) for v in value)
    return {"key": key, "type": "string", "value": str(value)}


def _span(span: ReadableSpan, process_id: str) -> dict[str, Any]:
    ctx = span.context
    assert ctx is not None and span.start_time is not None and span.end_time is not None
    trace_id = f"{ctx.trace_id:032x}"
    refs = []
    if span.parent is not None:
        refs.append(
            {"refType": "CHILD_OF", "traceID": trace_id, "spanID": f"{span.parent.span_id:016x}"}
        )
    for link in span.links:
        refs.append(
            {
                "refType": "FOLLOWS_FROM",
                "traceID": f"{link.context.trace_id:032x}",
                "spanID": f"{link.context.span_id:016x}",
            }
        )
    tags = [_tag(k, v) for k, v in (span.attributes or {}).items()]
    tags.append(_tag("span.kind", _KINDS[span.kind]))
    tags.append(
        _tag(
            "otel.scope.name", span.instrumentation_scope.name if span.instrumentation_scope else ""
        )
    )
    if span.status.status_code is StatusCode.ERROR:
        tags.append(_tag("otel.status_code", "ERROR"))
        tags.append(_tag("error", True))
        if span.status.description:
            tags.append(_tag("otel.status_description", span.status.description))
    logs = [
        {
            "timestamp": event.timestamp // 1000,
            "fields": [_tag("event", event.name)]
            + [_tag(k, v) for k, v in (event.attributes or {}).items()],
        }
        for event in span.events
    ]
    return {
        "traceID": trace_id,
        "spanID": f"{ctx.span_id:016x}",
        "operationName": span.name,
        "references": refs,
        "startTime": span.start_time // 1000,
        "duration": (span.end_time - span.start_time) // 1000,
        "tags": tags,
        "logs": logs,
        "processID": process_id,
        "warnings": None,
        "flags": 1,
    }


def trace_from_spans(spans: Iterable[ReadableSpan]) -> dict[str, Any]:
    """One trace object: `{"traceID", "spans", "processes", "warnings"}`."""
    processes: dict[str, dict[str, Any]] = {}
    by_service: dict[str, str] = {}
    out = []
    trace_id = ""
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        resource = dict(span.resource.attributes)
        service = str(resource.pop("service.name", "unknown"))
        if service not in by_service:
            by_service[service] = f"p{len(by_service) + 1}"
            processes[by_service[service]] = {
                "serviceName": service,
                "tags": [_tag(k, v) for k, v in sorted(resource.items())],
            }
        item = _span(span, by_service[service])
        trace_id = item["traceID"]
        out.append(item)
    return {"traceID": trace_id, "spans": out, "processes": processes, "warnings": None}


def merge(primary: dict[str, Any], others: list[dict[str, Any]]) -> dict[str, Any]:
    """One trace object holding the spans of several (a request and its linked job attempts).

    Process ids are per trace in Jaeger's shape, so they are re-keyed by service name.
    """
    processes: dict[str, dict[str, Any]] = {}
    key_of: dict[str, str] = {}
    spans = []
    for trace in [primary, *others]:
        for process in trace["processes"].values():
            name = process["serviceName"]
            if name not in key_of:
                key_of[name] = f"p{len(key_of) + 1}"
                processes[key_of[name]] = process
        for span in trace["spans"]:
            service = trace["processes"][span["processID"]]["serviceName"]
            spans.append({**span, "processID": key_of[service]})
    return {"traceID": primary["traceID"], "spans": spans, "processes": processes, "warnings": None}


def response(traces: list[dict[str, Any]]) -> dict[str, Any]:
    """The envelope Jaeger's query API answers with."""
    return {"data": traces, "total": len(traces), "limit": 0, "offset": 0, "errors": None}


def fetch(base_url: str, trace_id: str, *, timeout: float = 10) -> dict[str, Any]:
    """One trace from a Jaeger query service or a marathon API (same shape, same path)."""
    r = httpx.get(f"{base_url.rstrip('/')}/api/traces/{trace_id}", timeout=timeout)
    r.raise_for_status()
    data: list[dict[str, Any]] = r.json()["data"]
    if not data:
        raise LookupError(f"trace {trace_id} not found at {base_url}")
    return data[0]
