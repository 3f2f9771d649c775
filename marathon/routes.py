"""Read-only endpoints around the lesson: registration status, traces, and what is configured."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from html import escape
from typing import Any

import anyio
import httpx
from litestar import MediaType, Request, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException, PermissionDeniedException, ValidationException
from litestar.params import FromPath, FromQuery
from litestar.response import ServerSentEvent, ServerSentEventMessage
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan

from marathon import confirmations, jaeger, knobs, scenarios, tracing
from marathon.settings import Settings
from marathon.stack import ThreadedServer
from marathon.strategies import LESSONS, STRATEGIES
from marathon.views import svg as svg_view
from marathon.waterfall import from_jaeger

__all__ = ["ROUTES"]

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
SSE_POLL_S, SSE_LIMIT_S = 0.1, 300.0


async def email_delivered(settings: Settings, runner_id: uuid.UUID) -> dict[str, Any]:
    """Ask the sandbox's outbox; with real Resend, delivery is not ours to see (`None`)."""
    if not settings.uses_sandbox:
        return {"delivered": None, "email_id": None}
    with suppress_instrumentation():
        async with httpx.AsyncClient(timeout=5) as client:
            r = await client.get(
                f"{settings.email_api_url}/outbox", params={"idempotency_key": str(runner_id)}
            )
    r.raise_for_status()
    emails = r.json()["data"]
    return {"delivered": bool(emails), "email_id": emails[0]["id"] if emails else None}


async def _status(state: State, runner_id: uuid.UUID) -> dict[str, Any]:
    row = await state.db.get_runner(runner_id)
    email = await email_delivered(state.settings, runner_id)
    queued = await confirmations.get(state.db, runner_id)
    trace_ids: dict[str, Any] = {}
    if queued:
        email.update({k: queued[k] for k in ("state", "attempts", "next_attempt_at", "last_error")})
        email["email_id"] = email["email_id"] or queued["email_id"]
        trace_ids = {"request": queued["request_trace_id"], "attempts": queued["attempt_trace_ids"]}
    return {
        "id": str(runner_id),
        "stored": row is not None,
        "distance": row["distance"] if row else None,
        "created_at": row["created_at"].isoformat() if row else None,
        "email": email,
        "trace_ids": trace_ids,
    }


@get("/api/registrations/{runner_id:uuid}")
async def registration_status(state: State, runner_id: FromPath[uuid.UUID]) -> dict[str, Any]:
    """What really happened to a registration: the row, the email, and for a queued one the
    confirmation's state (queued, sending, retrying, sent, dead), attempts and trace ids."""
    return await _status(state, runner_id)


@get("/api/registrations/{runner_id:uuid}/events")
async def registration_events(state: State, runner_id: FromPath[uuid.UUID]) -> ServerSentEvent:
    """The same status as server-sent events, one per change, until a final state."""

    async def changes() -> AsyncIterator[ServerSentEventMessage]:
        last = None
        deadline = asyncio.get_running_loop().time() + SSE_LIMIT_S
        while asyncio.get_running_loop().time() < deadline:
            status = await _status(state, runner_id)
            current = (
                status["stored"],
                status["email"].get("state"),
                status["email"].get("attempts"),
                status["email"]["delivered"],
            )
            if current != last:
                last = current
                yield ServerSentEventMessage(data=json.dumps(status), event="status")
            if status["email"].get("state", "sent") in confirmations.FINAL:
                return
            await asyncio.sleep(SSE_POLL_S)

    return ServerSentEvent(changes())


@get("/api/queue")
async def queue_summary(state: State) -> dict[str, Any]:
    """Queued confirmations by state, and the dead letters with their last error."""
    return await confirmations.summary(state.db)


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
    return jaeger.response([jaeger.trace_from_spans(tracing.STORE.spans(t)) for t in ids])


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
        raise NotFoundException(detail=f"trace {trace_id} not found (or no span has ended yet)")
    return Response(
        jaeger.response([jaeger.trace_from_spans(spans)]),
        headers={tracing.RUNNING_HEADER: str(tracing.STORE.running(tid))},
    )


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


@get("/api/info")
async def info(state: State) -> dict[str, Any]:
    """What this server is and offers: strategies, email mode, links, knobs in force."""
    settings: Settings = state.settings
    current = knobs.defaults().as_dict()
    return {
        "service": settings.service_name,
        "strategies": [
            {"name": n, "path": f"/api/marathon/{n}", "lesson": LESSONS[n]} for n in STRATEGIES
        ],
        "email": {
            "mode": "sandbox" if settings.uses_sandbox else "resend",
            "outbox_url": f"{settings.email_api_url}/" if settings.uses_sandbox else None,
        },
        "jaeger_ui_url": settings.jaeger_ui_url,
        "knobs": [{**k, "value": current[k["name"]]} for k in knobs.describe()],
    }


@get("/api/scenarios")
async def list_scenarios() -> list[dict[str, Any]]:
    """The failure lessons, each with its knobs and one-line lesson."""
    return [
        {"name": s.name, "lesson": s.lesson, "knobs": s.knobs} for s in scenarios.SCENARIOS.values()
    ]


@post("/api/scenarios/{name:str}", status_code=200)
async def run_scenario(
    request: Request[Any, Any, State], state: State, name: FromPath[str]
) -> dict[str, Any]:
    """Run a scenario against this server; answers when every strategy's work has settled."""
    scenario = scenarios.SCENARIOS.get(name)
    if scenario is None:
        raise NotFoundException(detail=f"no scenario {name!r}; see GET /api/scenarios")
    if not state.settings.knobs_mutable:
        raise PermissionDeniedException(detail="Scenarios set knobs (MARATHON_KNOBS=off)")
    base_url = str(request.base_url).rstrip("/")

    def instance() -> ThreadedServer:  # for shutdown-mid-flight: a server it may stop
        from marathon.app import create_app

        return ThreadedServer(create_app(state.settings.with_(worker_in_process=False)))

    comparison = await anyio.to_thread.run_sync(
        lambda: scenarios.run(scenario, base_url, instance=instance)
    )
    comparison.jaeger_ui_url = state.settings.jaeger_ui_url
    return comparison.as_json()


ROUTES = [
    registration_status,
    registration_events,
    queue_summary,
    list_traces,
    get_trace,
    trace_page,
    info,
    list_scenarios,
    run_scenario,
]
