"""The registration endpoints (one per strategy, the same checks around each) and what a
client can ask about a registration afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
from litestar import Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State
from litestar.exceptions import HTTPException, PermissionDeniedException, ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from litestar.response import ServerSentEvent, ServerSentEventMessage
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from psycopg import Error as DatabaseError
from resend.exceptions import ResendError

from marathon import confirmations, knobs, lifecycle, queue, registration, tracing
from marathon.background import BackgroundFull
from marathon.changes import Changes, TooManyStreams
from marathon.db import DatabaseUnavailable, DuplicateRunner
from marathon.http_transport import tls_context
from marathon.routes import registration_openapi
from marathon.routes.registration_openapi import Problem, RegistrationOperation
from marathon.settings import Settings
from marathon.strategies import ACCEPTED, CREATED, LESSONS, Strategy

__all__ = ["ROUTES", "registration_endpoint"]

log = logging.getLogger(__name__)

SSE_FALLBACK_S, SSE_LIMIT_S = 5.0, 300.0


# The status each built-in strategy answers on success (the OpenAPI document says it); an
# exercise's own strategy is documented as 201.
SUCCESS_STATUS = {"concurrent": ACCEPTED, "queued": ACCEPTED}

# Each per-request override is logged once, not on every request; the values come from clients,
# so the memory of what was logged is bounded (a client sending a new value each time would
# otherwise grow it for ever): past the bound, new values go unlogged.
MAX_LOGGED_OVERRIDES = 256
_logged_overrides: set[str] = set()


def log_override_once(name: str, value: object) -> None:
    override = f"{name}={value}"
    if override in _logged_overrides or len(_logged_overrides) >= MAX_LOGGED_OVERRIDES:
        return
    _logged_overrides.add(override)
    log.info("knob override per request: %s", override)


def request_knobs(request: Request[Any, Any, State]) -> knobs.Knobs:
    """The process knobs with this request's `Marathon-Knobs` overrides; 400 if they are bad."""
    header = request.headers.get(knobs.HEADER)
    if not header:
        return knobs.defaults()
    if not request.app.state.settings.knobs_mutable:
        raise PermissionDeniedException(
            detail=f"{knobs.HEADER} is disabled on this deployment (MARATHON_KNOBS=off)"
        )
    try:
        overrides = knobs.parse_overrides(header, per_request=True)
    except knobs.KnobError as e:
        raise ValidationException(
            detail=f"Invalid {knobs.HEADER} header",
            extra=[{"key": knobs.HEADER, "message": str(e), "source": "header"}],
        ) from None
    for name, value in overrides.items():
        log_override_once(name, value)
    return knobs.defaults().replace(overrides)


def require_json(request: Request[Any, Any, State]) -> None:
    """415 unless the body says it is JSON. A browser sends `text/plain`, a form or no type
    cross-site without asking (no CORS preflight); `application/json` needs one, and this API
    grants none: another site cannot make a visitor's browser register someone."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise HTTPException(
            status_code=415,
            detail="A registration must be sent as Content-Type: application/json",
            extra=[
                {"key": "Content-Type", "message": "must be application/json", "source": "header"}
            ],
        )


async def read_runner(request: Request[Any, Any, State]) -> registration.Runner:
    require_json(request)
    try:
        body = await request.json()
    except HTTPException:
        raise  # e.g. 413 from request_max_body_size
    except Exception:
        raise ValidationException(
            detail="Invalid registration",
            extra=[{"key": "body", "message": "must be valid JSON", "source": "body"}],
        ) from None
    runner = registration.parse(body)
    if isinstance(runner, list):
        raise ValidationException(
            detail="Invalid registration", extra=[e.as_dict() for e in runner]
        )
    return runner


def registration_endpoint(name: str, strategy: Strategy) -> HTTPRouteHandler:
    """`POST /api/marathon/<name>`: the same validation and errors around each strategy."""

    success = SUCCESS_STATUS.get(name, CREATED)

    @post(
        f"/api/marathon/{name}",
        name=name,
        summary=LESSONS.get(name, name),
        request_max_body_size=registration.MAX_BODY_BYTES,
        status_code=success,
        operation_class=RegistrationOperation,
        responses=registration_openapi.responses(success),
    )
    async def register(request: Request[Any, Any, State], state: State) -> Response[Any]:
        span = trace.get_current_span()
        span.set_attribute(tracing.STRATEGY_ATTR, name)
        k = request_knobs(request)
        runner = await read_runner(request)
        span.set_attribute(tracing.RUNNER_ATTR, str(runner.id))
        with knobs.using(k), lifecycle.request_scope() as started:
            try:
                status = await strategy(state.work, runner)
            except DuplicateRunner:
                raise HTTPException(
                    status_code=409, detail="A runner with this email address is registered"
                ) from None
            except ResendError as e:
                log.warning("registration %s: the confirmation failed (%s)", runner.id, e.code)
                raise HTTPException(
                    status_code=502,
                    detail="The runner is registered, but the confirmation email failed",
                    extra={"id": str(runner.id), "email_error": e.error_type},
                ) from None
            except (DatabaseError, DatabaseUnavailable):
                raise HTTPException(status_code=503, detail="The database is unavailable") from None
            except queue.QueueUnavailable:
                raise HTTPException(
                    status_code=503, detail="The queue is unavailable; nothing was stored"
                ) from None
            except BackgroundFull:
                raise HTTPException(
                    status_code=503,
                    detail="Too much background work pending; try again shortly",
                    headers={"Retry-After": "1"},
                    extra={"id": str(runner.id)},
                ) from None
        # Runs once the response's last byte is sent (the request span has ended).
        after = None
        if k.lifecycle == "serverless":
            after = BackgroundTask(
                lifecycle.freeze, started, state.background, k.wait_until_grace_s
            )
        body = {"id": str(runner.id), "status_url": f"/api/registrations/{runner.id}"}
        return Response(body, status_code=status, background=after)

    return register


async def email_delivered(settings: Settings, runner_id: uuid.UUID) -> dict[str, Any]:
    """Ask the sandbox's outbox; with real Resend, delivery is not ours to see (`None`)."""
    if not settings.uses_sandbox:
        return {"delivered": None, "email_id": None}
    # The process's one TLS context: 100 status streams asking every few seconds once built
    # one each (the CA bundle parsed, tens of ms) and made everyone's registrations wait.
    with suppress_instrumentation():
        async with httpx.AsyncClient(timeout=5, verify=tls_context()) as client:
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


# A path that is not a UUID matches no route: Litestar answers 404.
NOT_FOUND = {404: ResponseSpec(data_container=Problem, description="Not a registration id")}


@get("/api/registrations/{runner_id:uuid}", responses=NOT_FOUND)
async def registration_status(state: State, runner_id: FromPath[uuid.UUID]) -> dict[str, Any]:
    """What really happened to a registration: the row, the email, and for a queued one the
    confirmation's state (queued, sending, retrying, sent, dead), attempts and trace ids."""
    return await _status(state, runner_id)


@get(
    "/api/registrations/{runner_id:uuid}/events",
    responses={
        **NOT_FOUND,
        503: ResponseSpec(data_container=Problem, description="Too many status streams open"),
    },
)
async def registration_events(state: State, runner_id: FromPath[uuid.UUID]) -> ServerSentEvent:
    """The same status as server-sent events, one per change, until a final state. Woken by
    the database's NOTIFY, not by polling; at most `changes.MAX_STREAMS` at once (then 503)."""
    changes: Changes = state.changes
    if changes.streams >= changes.max_streams:
        raise HTTPException(
            status_code=503,
            detail=f"Too many status streams open (at most {changes.max_streams}); poll"
            f" /api/registrations/{runner_id} instead, or try again shortly",
            headers={"Retry-After": "5"},
        )

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        last = None
        deadline = asyncio.get_running_loop().time() + SSE_LIMIT_S
        async with changes.watch(str(runner_id)) as changed:
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
                # Until the next NOTIFY for this runner (the fallback only covers the sandbox's
                # delivery flag, which the database does not announce). Jittered: streams
                # opened together must not all ask at the same instant, every time.
                fallback_s = SSE_FALLBACK_S * random.uniform(0.5, 1.5)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), fallback_s)
                changed.clear()

    async def capped() -> AsyncIterator[ServerSentEventMessage]:
        try:
            async for message in stream():
                yield message
        except TooManyStreams:
            return  # lost the race for the last slot: an empty stream

    return ServerSentEvent(capped())


ROUTES = [registration_status, registration_events]
