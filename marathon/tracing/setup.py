"""OpenTelemetry set-up: one tracer provider per service, the in-process store, OTLP export.

Exporting follows the standard variables: whenever `OTEL_EXPORTER_OTLP_ENDPOINT` or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, spans also go out over OTLP/HTTP (protobuf).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
from litestar.types import Scope
from litestar.utils import normalize_path
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.propagators import (
    TraceResponsePropagator,
    set_global_response_propagator,
)
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from marathon.tracing.store import TraceStore

__all__ = [
    "OFF_MESSAGE",
    "RUNNING_HEADER",
    "SEMCONV_DEFAULT",
    "SEMCONV_VARIABLE",
    "STORE",
    "enabled",
    "instrument_http_client",
    "instrumentation_enabled",
    "otlp_enabled",
    "provider_for",
    "receive",
    "route_span_details",
    "setup",
    "shutdown",
    "tracer",
]

# What the trace views say when there is nothing to show because tracing is off.
OFF_MESSAGE = "tracing is off (MARATHON_TRACING=off or OTEL_SDK_DISABLED=true): no traces recorded"

# Sent with a trace: how many of its spans are still running (0: the work has settled).
RUNNING_HEADER = "Marathon-Spans-Running"

SEMCONV_VARIABLE, SEMCONV_DEFAULT = "OTEL_SEMCONV_STABILITY_OPT_IN", "http,database"

STORE = TraceStore()
_providers: dict[str, TracerProvider] = {}
_exporting: list[SpanProcessor] = []  # the OTLP processors, which pass on received spans too


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Tracing is on unless `MARATHON_TRACING=off` or the standard `OTEL_SDK_DISABLED=true`.

    Off means off: no instrumentation is installed at all (no psycopg/httpx wrappers, no ASGI
    middleware, no `traceresponse` header), so tracing's own cost can be measured.
    """
    env = os.environ if environ is None else environ
    switch = env.get("MARATHON_TRACING", "").strip().lower()
    if switch not in ("", "on", "off"):
        raise ValueError(f"MARATHON_TRACING must be on or off, got {switch!r}")
    return switch != "off" and env.get("OTEL_SDK_DISABLED", "").strip().lower() != "true"


def otlp_enabled() -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def _processors() -> list[SpanProcessor]:
    processors: list[SpanProcessor] = [STORE]
    if otlp_enabled():
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporting = BatchSpanProcessor(OTLPSpanExporter())
        processors.append(exporting)
        _exporting.append(exporting)
    return processors


def receive(spans: Sequence[ReadableSpan]) -> None:
    """Finished spans from another process (`POST /v1/traces`): into the store, and on to
    this process's own OTLP endpoint when it has one, so Jaeger sees them too."""
    STORE.add_finished(spans)
    for span in spans:
        for processor in _exporting[:1]:  # each span carries its own resource: one is enough
            processor.on_end(span)


def opt_in_stable_semconv() -> None:
    """OpenTelemetry's stable HTTP and database attribute names (`http.request.method`,
    `url.full`, `db.query.text`...), unless the user chose otherwise. Before any instrumentation
    exists: the instrumentations read the variable once, on first use."""
    os.environ.setdefault(SEMCONV_VARIABLE, SEMCONV_DEFAULT)


def provider_for(service_name: str) -> TracerProvider:
    """The tracer provider of one service (the API, or the sandbox when it runs in-process)."""
    opt_in_stable_semconv()
    if service_name not in _providers:
        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
        for processor in _processors():
            provider.add_span_processor(processor)
        _providers[service_name] = provider
    return _providers[service_name]


def setup(
    service_name: str = "marathon-api", store_limit: int | None = None
) -> TracerProvider | None:
    """Make `service_name` the process's global provider and instrument psycopg and httpx.

    Idempotent. Must run before any database connection or pool exists: the psycopg
    instrumentor only covers connections created after it. With tracing off (`enabled()`),
    it installs nothing and returns None: spans go to OpenTelemetry's no-op default.
    """
    if not enabled():
        return None
    if store_limit is not None:
        STORE.limit = store_limit
    provider = provider_for(service_name)
    if not PsycopgInstrumentor().is_instrumented_by_opentelemetry:
        trace.set_tracer_provider(provider)
        # Query text only (placeholders, never parameter values): no personal data in spans.
        PsycopgInstrumentor().instrument(tracer_provider=provider, skip_dep_check=True)
        HTTPXClientInstrumentor().instrument(tracer_provider=provider)
        # Every response carries `traceresponse: 00-<trace id>-<span id>-01`.
        set_global_response_propagator(TraceResponsePropagator())  # type: ignore[no-untyped-call]
    return provider


def instrument_http_client(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Trace a client whose transport is not httpx's own (the global instrumentation wraps only
    that class), exactly when httpx's own would be: the email client's `POST` spans."""
    if HTTPXClientInstrumentor().is_instrumented_by_opentelemetry:
        HTTPXClientInstrumentor.instrument_client(client)
    return client


def shutdown() -> None:
    """Export every span ended so far, then stop each provider (the process is about to exit)."""
    for provider in _providers.values():
        provider.force_flush(timeout_millis=10_000)
        provider.shutdown()
    _providers.clear()
    _exporting.clear()


# A proxy until `setup()` sets the provider, then the provider's tracer: made once, not per span.
_TRACER = trace.get_tracer("marathon")


def tracer() -> trace.Tracer:
    return _TRACER


def route_span_details(scope: Scope) -> tuple[str, dict[str, Any]]:
    """Name server spans by route template, never by raw path (ids would make names unbounded).

    Litestar's plugin wraps the router, so the route is not resolved yet: ask the router.
    """
    method = str(scope.get("method", "")).upper()
    try:
        *_, template = scope["litestar_app"].asgi_router.handle_routing(
            path=normalize_path(scope.get("path", "")), method=method or None
        )
    except Exception:
        return (method or "HTTP"), {}  # unmatched: the semantic conventions' low-cardinality name
    return f"{method} {template}".strip(), {"http.route": template}


@contextmanager
def instrumentation_enabled() -> Iterator[None]:
    """Undo `suppress_instrumentation()` for a block (a job inside the quiet worker loop)."""
    ctx = otel_context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, False)
    ctx = otel_context.set_value("suppress_instrumentation", False, ctx)
    token = otel_context.attach(ctx)
    try:
        yield
    finally:
        otel_context.detach(token)
