"""Traces, in Jaeger's JSON shape and as waterfalls (pages and SVG)."""

from __future__ import annotations

import re
import uuid
from html import escape
from typing import Any

from litestar import MediaType, Response, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery
from opentelemetry.sdk.trace import ReadableSpan

from marathon import confirmations, jaeger, tracing
from marathon.settings import Settings
from marathon.strategies import STRATEGIES
from marathon.views import svg as svg_view
from marathon.waterfall import from_jaeger

__all__ = ["ROUTES", "registration_trace"]

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


async def registration_trace(state: State, trace_id: str) -> dict[str, Any] | None:
    """A request's trace, with the traces of its queued job's attempts (linked) merged in."""
    spans = tracing.STORE.spans(int(trace_id, 16)) if _TRACE_ID.match(trace_id) else []
    if not spans:
        return None
    doc = jaeger.trace_from_spans(spans)
    runner_id = next(
        (
            str(s.attributes[tracing.RUNNER_ATTR])
            for s in spans
            if s.attributes
            and tracing.STRATEGY_ATTR in s.attributes
            and tracing.RUNNER_ATTR in s.attributes
        ),
        None,
    )
    queued = await confirmations.get(state.db, uuid.UUID(runner_id)) if runner_id else None
    if queued:
        attempts = [tracing.STORE.spans(int(t, 16)) for t in queued["attempt_trace_ids"]]
        doc = jaeger.merge(doc, [jaeger.trace_from_spans(a) for a in attempts if a])
    return doc


def _has_strategy(strategy: str | None) -> Any:
    def where(spans: list[ReadableSpan]) -> bool:
        values = {(s.attributes or {}).get(tracing.STRATEGY_ATTR) for s in spans}
        return strategy in values if strategy else bool(values - {None})

    return where


@get("/api/traces")
async def list_traces(
    strategy: FromQuery[str | None] = None, limit: FromQuery[int] = 20
) -> dict[str, Any]:
    """Recent registration traces, newest first, in Jaeger's JSON shape."""
    if strategy is not None and strategy not in STRATEGIES:
        raise ValidationException(
            detail="Unknown strategy",
            extra=[{"key": "strategy", "message": f"must be one of {', '.join(STRATEGIES)}"}],
        )
    ids = tracing.STORE.recent(max(1, min(limit, 200)), _has_strategy(strategy))
    doc = jaeger.response([jaeger.trace_from_spans(tracing.STORE.spans(t)) for t in ids])
    if not tracing.enabled():
        doc["errors"] = [{"code": 503, "msg": tracing.OFF_MESSAGE}]
    return doc


@get("/api/traces/{trace_id:str}")
async def get_trace(trace_id: FromPath[str]) -> Response[dict[str, Any]]:
    """One trace in Jaeger's JSON shape; a header says how many of its spans still run."""
    if not _TRACE_ID.match(trace_id):
        raise ValidationException(
            detail="Invalid trace id",
            extra=[{"key": "trace_id", "message": "must be 32 lowercase hex digits"}],
        )
    tid = int(trace_id, 16)
    spans = tracing.STORE.spans(tid)
    if not spans:
        if not tracing.enabled():
            raise NotFoundException(detail=tracing.OFF_MESSAGE)
        raise NotFoundException(detail=f"trace {trace_id} not found (or no span has ended yet)")
    return Response(
        jaeger.response([jaeger.trace_from_spans(spans)]),
        headers={tracing.RUNNING_HEADER: str(tracing.STORE.running(tid))},
    )


@get("/traces/{trace_id:str}", media_type=MediaType.HTML)
async def trace_page(state: State, trace_id: FromPath[str]) -> str:
    """One trace's waterfall as a page; it refreshes itself while spans are still running."""
    await get_trace.fn(trace_id=trace_id)  # the same 400 and 404
    doc = await registration_trace(state, trace_id)
    assert doc is not None
    waterfall = from_jaeger(doc)
    running = tracing.STORE.running(int(trace_id, 16))
    settings: Settings = state.settings
    links = [f'<a href="/api/traces/{trace_id}">Jaeger JSON</a> (loads in Jaeger UI)']
    if settings.jaeger_ui_url:
        links.append(f'<a href="{escape(settings.jaeger_ui_url)}/trace/{trace_id}">Jaeger</a>')
    facts = [f"response sent at {waterfall.response_ms or 0:,.0f} ms"]
    facts.append(f"{len(waterfall.after_response)} span(s) ended after it")
    if waterfall.failed:
        facts.append(f"{len(waterfall.failed)} failed or cancelled")
    if running:
        facts.append(f"{running} still running (this page refreshes)")
    body = (
        f"<p>{' · '.join(facts)}</p><p>{' · '.join(links)}</p>"
        f"<div class=scroll>{svg_view.svg([waterfall])}</div>"
    )
    page = svg_view.html_page(f"{waterfall.title}: trace {trace_id}", body)
    refresh = '<meta http-equiv="refresh" content="1">' if running else ""
    return page.replace("<head>", f"<head>{refresh}", 1)


@get("/api/waterfalls.svg", media_type="image/svg+xml")
async def waterfalls_svg(state: State, trace_id: FromQuery[list[str]]) -> Response[str]:
    """Registrations' waterfalls (queued jobs' attempts merged in) on one shared time axis."""
    docs = [await registration_trace(state, t) for t in trace_id[:10]]
    if not any(docs):
        raise ValidationException(detail="none of these traces is known (yet)")
    waterfalls = [from_jaeger(d) for d in docs if d]
    return Response(svg_view.svg(waterfalls), media_type="image/svg+xml")


ROUTES = [list_traces, get_trace, trace_page, waterfalls_svg]
