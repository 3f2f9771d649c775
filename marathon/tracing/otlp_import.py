"""Spans from other processes: an OTLP/HTTP protobuf export (what every marathon process sends
when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set) turned back into the SDK's finished spans.

The API keeps them in its trace store (`POST /v1/traces`), so the servers the
`shutdown-mid-flight` scenario starts and stops in processes of their own leave their spans
with the server that ran the scenario: they flush on SIGTERM before they exit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, SpanFlags
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

__all__ = ["MEDIA_TYPE", "InvalidExport", "decode"]

MEDIA_TYPE = "application/x-protobuf"


class InvalidExport(ValueError):
    """Not an OTLP trace export, or a span in it that no tracer could have made."""


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return tuple(_value(v) for v in value.array_value.values)
    if which == "kvlist_value":  # the store's views show attributes as flat values
        return str({kv.key: _value(kv.value) for kv in value.kvlist_value.values})
    return None if which is None else getattr(value, which)


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    found = ((kv.key, _value(kv.value)) for kv in pairs)
    return {key: value for key, value in found if value is not None}


def _id(raw: bytes, size: int, what: str) -> int:
    number = int.from_bytes(raw, "big")
    if len(raw) != size or number == 0:
        raise InvalidExport(f"{what} must be {size} bytes, not all zero")
    return number


def _span(span: Span, resource: Resource, scope: InstrumentationScope) -> ReadableSpan:
    trace_id = _id(span.trace_id, 16, "trace_id")
    if not 0 < span.start_time_unix_nano <= span.end_time_unix_nano:
        raise InvalidExport("a span must have started and ended (end >= start > 0)")
    if not 0 <= span.kind <= 5 or not 0 <= span.status.code <= 2:
        raise InvalidExport("unknown span kind or status code")
    parent = None
    if span.parent_span_id:
        remote = bool(span.flags & SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK)
        parent = SpanContext(
            trace_id, _id(span.parent_span_id, 8, "parent_span_id"), is_remote=remote
        )
    code = StatusCode(span.status.code)
    return ReadableSpan(
        name=span.name,
        context=SpanContext(
            trace_id,
            _id(span.span_id, 8, "span_id"),
            is_remote=False,
            trace_flags=TraceFlags(span.flags & 0xFF or TraceFlags.SAMPLED),
            trace_state=TraceState.from_header([span.trace_state]) if span.trace_state else None,
        ),
        parent=parent,
        resource=resource,
        attributes=_attributes(span.attributes),
        events=[
            Event(e.name, _attributes(e.attributes), timestamp=e.time_unix_nano)
            for e in span.events
        ],
        links=[
            Link(
                SpanContext(
                    _id(link.trace_id, 16, "link trace_id"),
                    _id(link.span_id, 8, "link span_id"),
                    is_remote=True,
                ),
                _attributes(link.attributes),
            )
            for link in span.links
        ],
        # OTLP counts kinds from UNSPECIFIED = 0; the SDK from INTERNAL = 0.
        kind=SpanKind(span.kind - 1) if span.kind else SpanKind.INTERNAL,
        # A description goes only with an error (the SDK warns about any other).
        status=Status(code, span.status.message or None if code is StatusCode.ERROR else None),
        start_time=span.start_time_unix_nano,
        end_time=span.end_time_unix_nano,
        instrumentation_scope=scope,
    )


def decode(body: bytes) -> list[ReadableSpan]:
    """The finished spans of one `ExportTraceServiceRequest`; `InvalidExport` if it is none."""
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as e:
        raise InvalidExport(f"not an OTLP ExportTraceServiceRequest: {e}") from None
    spans: list[ReadableSpan] = []
    for resource_spans in request.resource_spans:
        resource = Resource(_attributes(resource_spans.resource.attributes))
        for scope_spans in resource_spans.scope_spans:
            scope = InstrumentationScope(scope_spans.scope.name, scope_spans.scope.version or None)
            spans.extend(_span(s, resource, scope) for s in scope_spans.spans)
    return spans
