"""Traces in the JSON shape of Jaeger's query API (`GET /api/traces/{id}`).

One format for everything: the app serves it, Jaeger UI's "JSON file" upload reads it, and
`fetch()` reads the same shape from a real Jaeger (`JAEGER_QUERY_URL`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from marathon.tracing.jaeger_query import linked_from

__all__ = [
    "Unavailable",
    "attempts",
    "error",
    "fetch",
    "find",
    "response",
    "trace_from_spans",
    "upload_file",
]

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


def response(
    data: Any, *, total: int = 0, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Jaeger's envelope (`structuredResponse`). Like Jaeger, `total` is 0 for traces and the
    count for services and operations; `errors` is null unless some trace was not found."""
    return {"data": data, "total": total, "limit": 0, "offset": 0, "errors": errors or None}


def error(code: int, message: str) -> dict[str, Any]:
    """Jaeger's error body: what its query service answers a bad request or a missing trace."""
    return {
        "data": None,
        "total": 0,
        "limit": 0,
        "offset": 0,
        "errors": [{"code": code, "msg": message}],
    }


def upload_file(traces: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """What Jaeger UI's "JSON File" upload reads: `{"data": [trace, ...]}`, each trace once."""
    seen: dict[str, dict[str, Any]] = {}
    for trace in traces:
        seen.setdefault(trace["traceID"], trace)
    return {"data": list(seen.values())}


class Unavailable(Exception):
    """No trace to show: missing, refused, or nothing answering. One line for the user."""

    def __init__(self, message: str, *, unreachable: bool = False, status: int = 0) -> None:
        super().__init__(message)
        self.unreachable, self.status = unreachable, status


def _get(base_url: str, path: str, params: Any = None, *, timeout: float) -> Any:
    url = f"{base_url.rstrip('/')}{path}"
    try:
        r = httpx.get(url, params=params, timeout=timeout)
    except httpx.HTTPError as e:
        raise Unavailable(f"nothing answers at {base_url} ({e})", unreachable=True) from None
    try:
        body = r.json()
    except ValueError:
        body = {}
    if r.status_code >= 400:  # Jaeger's error body: {"errors": [{"code", "msg"}]}
        errors = body.get("errors") if isinstance(body, dict) else None
        msgs = [e.get("msg", "") for e in errors or [] if isinstance(e, dict)]
        raise Unavailable(f"{'; '.join(msgs) or f'HTTP {r.status_code}'}", status=r.status_code)
    return body


def fetch(base_url: str, trace_id: str, *, timeout: float = 10) -> dict[str, Any]:
    """One trace from a Jaeger query service or a marathon API (same shape, same path)."""
    data = _get(base_url, f"/api/traces/{trace_id}", timeout=timeout).get("data") or []
    if not data:
        raise Unavailable("trace not found", status=404)
    trace: dict[str, Any] = data[0]
    return trace


def find(base_url: str, params: Any, *, timeout: float = 10) -> list[dict[str, Any]]:
    """`GET /api/traces` with Jaeger's parameters, from Jaeger or a marathon API."""
    data: list[dict[str, Any]] = _get(base_url, "/api/traces", params, timeout=timeout)["data"]
    return data


def attempts(base_url: str, trace: dict[str, Any], *, timeout: float = 10) -> list[dict[str, Any]]:
    """The traces linked to `trace` (a queued job's attempts), found as a Jaeger user would:
    search every service for the registration's `marathon.runner_id`, keep the traces whose
    span links point into this one."""
    runner_ids = {
        str(t["value"])
        for s in trace["spans"]
        for t in s.get("tags") or []
        if t["key"] == "marathon.runner_id"
    }
    if not runner_ids:
        return []
    found: list[dict[str, Any]] = []
    for service in _get(base_url, "/api/services", timeout=timeout).get("data") or []:
        for runner_id in sorted(runner_ids):
            tags = json.dumps({"marathon.runner_id": runner_id})
            found += find(base_url, {"service": service, "tags": tags}, timeout=timeout)
    return linked_from(upload_file(found)["data"], trace["traceID"])
