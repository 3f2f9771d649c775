"""Traces: a subset of Jaeger's HTTP query API on the in-process store, and waterfall pages.

Jaeger UI pointed at this app finds, opens and compares its traces: the routes, parameters,
units, JSON and error bodies are Jaeger's (`marathon.tracing.jaeger_query` has the semantics). One
extension: `GET /api/traces?strategy=` lists one strategy's registrations (the page uses it).
"""

from __future__ import annotations

import dataclasses
from html import escape
from typing import Annotated, Any, TypedDict
from urllib.parse import parse_qs

from litestar import MediaType, Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import HTTPException, ValidationException
from litestar.exceptions.responses import ExceptionResponseContent
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, QueryParameter
from opentelemetry.sdk.trace import ReadableSpan

from marathon import tracing
from marathon.routes.pages import layout
from marathon.service.settings import Settings
from marathon.strategies import STRATEGIES
from marathon.tracing import jaeger_json
from marathon.tracing import jaeger_query as query
from marathon.views import spans
from marathon.views import svg as svg_view
from marathon.views.waterfall import from_jaeger

__all__ = ["ROUTES", "request_and_attempts", "stored_traces"]


# Each trace's JSON, kept while its span count is unchanged: converting a full store (200
# traces) takes far longer than searching it, and Jaeger UI and the pages ask again and again.
_json: dict[int, tuple[int, dict[str, Any]]] = {}


def _as_json(trace_id: int, spans: list[ReadableSpan]) -> dict[str, Any]:
    cached = _json.get(trace_id)
    if cached is None or cached[0] != len(spans):
        cached = _json[trace_id] = (len(spans), jaeger_json.trace_from_spans(spans))
    return cached[1]


def stored_traces() -> list[dict[str, Any]]:
    """Every trace in the store with a finished span, newest first, in Jaeger's JSON shape."""
    ids = tracing.STORE.recent(max(tracing.STORE.limit, 1) * 2)
    traces = [_as_json(t, tracing.STORE.spans(t)) for t in ids]
    if len(_json) > 2 * len(ids) + 100:  # forget the evicted
        for gone in set(_json) - set(ids):
            _json.pop(gone, None)
    return traces


def _stored(trace_id: int) -> dict[str, Any] | None:
    spans = tracing.STORE.spans(trace_id)
    return _as_json(trace_id, spans) if spans else None


def request_and_attempts(trace_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """A trace, and the traces linked to it (a queued job's attempts), each one whole."""
    trace = _stored(trace_id)
    if trace is None:
        return None
    linked = [  # only spans' links are read here: the linked traces alone are converted
        _stored(t)
        for t in tracing.STORE.recent(max(tracing.STORE.limit, 1) * 2)
        if t != trace_id
        and any(
            link.context.trace_id == trace_id for s in tracing.STORE.spans(t) for link in s.links
        )
    ]
    return trace, query.linked_from([t for t in linked if t], trace["traceID"])


def _params(request: Request[Any, Any, Any]) -> dict[str, list[str]]:
    """The query string as Go reads it: repeated keys kept, `minDuration` alone means ""."""
    return parse_qs(request.scope["query_string"].decode("latin-1"), keep_blank_values=True)


def _error(code: int, message: str) -> Response[dict[str, Any]]:
    return Response(jaeger_json.error(code, message), status_code=code)


class JaegerErrorItem(TypedDict):
    code: int
    msg: str


class JaegerError(TypedDict):
    """Jaeger's error body (`structuredResponse` with `structuredError`s)."""

    data: None
    total: int
    limit: int
    offset: int
    errors: list[JaegerErrorItem]


def _errors(*codes: int) -> dict[int, ResponseSpec]:
    return {
        c: ResponseSpec(JaegerError, description="Jaeger's error body; `msg` says why")
        for c in codes
    }


# Declared for the OpenAPI document only: the handlers read the raw query string, as Go's
# `r.FormValue` does (the first value wins, a blank value means "not given").
def _q(doc: str, name: str | None = None) -> Any:
    return QueryParameter(name=name, description=doc, required=False)


@get("/api/services")
async def services() -> dict[str, Any]:
    """Services with spans in the store (Jaeger: `GET /api/services`)."""
    names = query.services(stored_traces())
    return jaeger_json.response(names, total=len(names))


@get("/api/services/{service:str}/operations")
async def service_operations(service: FromPath[str]) -> dict[str, Any]:
    """A service's operation names (Jaeger's legacy route, the one Jaeger UI's search calls)."""
    names = sorted({o["name"] for o in query.operations(stored_traces(), service)})
    return jaeger_json.response(names, total=len(names))


@get("/api/operations", responses=_errors(400))
async def operations(
    request: Request[Any, Any, Any],
    service: Annotated[str | None, _q("the service (required)")] = None,
    span_kind: Annotated[str | None, _q("server, client, internal...", "spanKind")] = None,
) -> Response[dict[str, Any]]:
    """`?service=&spanKind=`: operations as `{"name", "spanKind"}` (Jaeger's newer route)."""
    params = _params(request)
    name = (params.get("service") or [""])[0]
    if not name:
        return _error(400, query.SERVICE_REQUIRED)
    found = query.operations(stored_traces(), name, (params.get("spanKind") or [""])[0])
    return Response(jaeger_json.response(found, total=len(found)))


@get("/api/traces", responses=_errors(400))
async def search_traces(
    request: Request[Any, Any, Any],
    service: Annotated[str | None, _q("required unless traceID (or strategy) is given")] = None,
    operation: Annotated[str | None, _q("a span name of that service")] = None,
    start: Annotated[str | None, _q("µs since the epoch; default 48 h ago")] = None,
    end: Annotated[str | None, _q("µs since the epoch; default now")] = None,
    limit: Annotated[str | None, _q("default 100; 0: no limit")] = None,
    lookback: Annotated[str | None, _q("sent by Jaeger UI, ignored (as Jaeger does)")] = None,
    min_duration: Annotated[str | None, _q("a Go duration, 100ms", "minDuration")] = None,
    max_duration: Annotated[str | None, _q("a Go duration, 1.2s", "maxDuration")] = None,
    tags: Annotated[list[str] | None, _q('JSON: {"marathon.runner_id": "..."}')] = None,
    tag: Annotated[list[str] | None, _q("key:value, repeatable")] = None,
    trace_id: Annotated[list[str] | None, _q("repeatable: exactly these", "traceID")] = None,
    raw: Annotated[str | None, _q("accepted (a Go bool); traces are never adjusted")] = None,
    strategy: Annotated[str | None, _q("marathon's extension: one strategy's traces")] = None,
) -> Response[dict[str, Any]]:
    """Jaeger's trace search: `service` (required unless `traceID`), `operation`, `start`/`end`
    (µs), `limit`, `minDuration`/`maxDuration` ("100ms"), `tags` (JSON) or `tag=k:v`; repeated
    `traceID` answers exactly those. Extension: `strategy` (then `service` is optional)."""
    try:
        q = query.parse_trace_query(_params(request), strategies=STRATEGIES)
    except query.QueryError as e:
        return _error(400, str(e))
    if not tracing.enabled():  # nothing recorded: say why, not just "no traces"
        return Response(
            jaeger_json.response([], errors=[{"code": 503, "msg": tracing.OFF_MESSAGE}])
        )
    if not q.trace_ids:
        return Response(jaeger_json.response(query.search(stored_traces(), q)))
    found, errors = [], []
    for tid in q.trace_ids:  # in the order asked, as Jaeger's Compare expects
        trace = _stored(tid)
        if trace is None:
            errors.append({"msg": query.TRACE_NOT_FOUND, "traceID": query.jaeger_id(tid)})
        else:
            found.append(trace)
    return Response(jaeger_json.response(found, errors=errors))


@get("/api/traces/{trace_id:str}", responses=_errors(400, 404))
async def get_trace(trace_id: FromPath[str]) -> Response[dict[str, Any]]:
    """One trace (any case; short ids are left-padded, as Jaeger does); a header says how many
    of its spans still run (0: the background work has settled)."""
    try:
        tid = query.parse_trace_id(trace_id)
    except query.QueryError as e:
        return _error(400, str(e))
    trace = _stored(tid)
    if trace is None:
        return _error(404, query.TRACE_NOT_FOUND if tracing.enabled() else tracing.OFF_MESSAGE)
    return Response(
        jaeger_json.response([trace]),
        headers={tracing.RUNNING_HEADER: str(tracing.STORE.running(tid))},
    )


@get("/api/dependencies", responses=_errors(400))
async def dependencies(
    request: Request[Any, Any, Any],
    end_ts: Annotated[str | None, _q("ms since the epoch; default now", "endTs")] = None,
    lookback: Annotated[str | None, _q("ms; default 24 h")] = None,
    service: Annotated[str | None, _q("only this service's links")] = None,
) -> Response[dict[str, Any]]:
    """`?endTs=&lookback=` (ms): service-to-service call counts, parent span to child span."""
    params = _params(request)
    try:
        end_us, lookback_us = query.parse_dependencies_query(params)
    except query.QueryError as e:
        return _error(400, str(e))
    only = (params.get("service") or [""])[0]
    links = query.dependencies(stored_traces(), end_us, lookback_us, only)
    return Response(jaeger_json.response(links))


def _missing_page(trace_id: str, status: int, reason: str, service: str) -> Response[str]:
    body = (
        f"<p>{escape(reason, quote=False)}</p><p>The app keeps the most recent traces in "
        "memory only (registration traces first); older ones are evicted, and a restart "
        "forgets them all. "
        "With an OTLP exporter (<code>OTEL_EXPORTER_OTLP_ENDPOINT</code>) Jaeger keeps them "
        'for longer.</p><p><a href="/">Back to the workshop page</a> · '
        f'<a href="/api/traces?service={escape(service)}&amp;limit=20">recent traces (JSON)</a></p>'
    )
    title = f"trace {trace_id}: not here"
    page = layout(title, f"<h1>{escape(title)}</h1>{body}")
    return Response(page, status_code=status, media_type=MediaType.HTML)


_PAGE_ERRORS = {
    400: ResponseSpec(str, media_type=MediaType.HTML, description="Not a trace id: a page"),
    404: ResponseSpec(str, media_type=MediaType.HTML, description="Not in the store: a page"),
}


@get("/traces/{trace_id:str}", media_type=MediaType.HTML, responses=_PAGE_ERRORS)
async def trace_page(state: State, trace_id: FromPath[str]) -> Response[str]:
    """One trace's waterfall as a page, a queued job's attempts drawn in (found through their
    links); it refreshes itself while spans still run. A missing trace gets a page saying so."""
    settings: Settings = state.settings
    try:
        tid = query.parse_trace_id(trace_id)
    except query.QueryError:
        reason = f"“{trace_id}” is not a trace id (1 to 32 hex digits)."
        return _missing_page(trace_id, 400, reason, settings.service_name)
    found = request_and_attempts(tid)
    if found is None:
        reason = (
            f"Trace {trace_id} is not in this server's store: it was evicted, it belongs to "
            "another server, or none of its spans has ended yet."
        )
        return _missing_page(trace_id, 404, reason, settings.service_name)
    trace, attempts = found
    shown = trace["traceID"]
    waterfall = from_jaeger(trace, attempts)
    running = tracing.STORE.running(tid) + sum(
        tracing.STORE.running(int(a["traceID"], 16)) for a in attempts
    )
    links = [f'<a href="/api/traces/{shown}">Jaeger JSON</a> (loads in Jaeger UI)']
    if attempts:
        ids = "&".join(f"traceID={t['traceID']}" for t in (trace, *attempts))
        links.append(f'<a href="/api/traces?{ids}">with its {len(attempts)} attempt trace(s)</a>')
    if settings.jaeger_ui_url:
        links.append(f'<a href="{escape(settings.jaeger_ui_url)}/trace/{shown}">Jaeger</a>')
    facts = [f"response sent at {waterfall.response_ms or 0:,.0f} ms"]
    facts.append(f"{len(waterfall.after_response)} span(s) ended after it")
    if attempts:
        facts.append(f"{len(attempts)} queued attempt(s), each a trace of its own, linked")
    if waterfall.failed:
        facts.append(f"{len(waterfall.failed)} failed or cancelled")
    if running:
        facts.append(f"{running} still running (this page refreshes)")
    title = f"{waterfall.title}: trace {shown}"
    body = (
        f'<p class="back"><a href="/">&larr; Back to the workshop</a></p>'
        f"<h1>{escape(title)}</h1><p>{' · '.join(facts)}</p><p>{' · '.join(links)}</p>"
        f'<div class="scroll trace-waterfall">{svg_view.svg([waterfall])}</div>'
        f"{spans.details([trace, *attempts])}"
    )
    page = layout(title, body, scripts=("trace.js",))
    refresh = '<meta http-equiv="refresh" content="1">' if running else ""
    return Response(page.replace("<head>", f"<head>{refresh}", 1), media_type=MediaType.HTML)


def _json_problem(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Litestar answers an error in the route's media type: a JSON body labelled SVG."""
    problem = ExceptionResponseContent(
        status_code=exc.status_code,
        detail=exc.detail,
        headers=exc.headers,
        extra=exc.extra,
        media_type=MediaType.JSON,
    )
    return problem.to_response(request)


@get(
    "/api/waterfalls.svg",
    media_type="image/svg+xml",
    exception_handlers={HTTPException: _json_problem},
)
async def waterfalls_svg(
    trace_id: FromQuery[list[str]],
    depth: FromQuery[int | None] = None,
    compact: FromQuery[bool] = False,
) -> Response[str]:
    """Registrations' waterfalls (queued jobs' attempts drawn in) on one shared time axis;
    `depth` keeps spans down to that depth (0: the request), `compact` fits a slide."""
    waterfalls = []
    for text in trace_id[:10]:
        try:
            found = request_and_attempts(query.parse_trace_id(text))
        except query.QueryError:
            found = None
        if found:
            waterfalls.append(from_jaeger(*found))
    if not waterfalls:
        raise ValidationException(detail="none of these traces is known (yet)")
    if depth is not None:
        waterfalls = [
            dataclasses.replace(w, bars=tuple(b for b in w.bars if b.depth <= depth))
            for w in waterfalls
        ]
    return Response(svg_view.svg(waterfalls, compact=compact), media_type="image/svg+xml")


ROUTES = [
    services,
    service_operations,
    operations,
    search_traces,
    get_trace,
    dependencies,
    trace_page,
    waterfalls_svg,
]
