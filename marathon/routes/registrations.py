"""The registration endpoints: one per strategy, the same checks and errors around each, and
the door: room in wait_until is reserved before the strategy runs (`WAIT_UNTIL_SLOTS`), so a
full wait_until is a 503 that stored nothing and a retry can succeed."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from litestar import Request, Response, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers import HTTPRouteHandler
from opentelemetry import trace
from psycopg import Error as DatabaseError
from resend.exceptions import ResendError

from marathon import knobs, lifecycle, registration, tracing
from marathon.background import BackgroundFull
from marathon.routes import registration_openapi
from marathon.routes.knob_headers import request_knobs
from marathon.routes.registration_openapi import RegistrationOperation
from marathon.service import queue
from marathon.service.db import DatabaseUnavailable, DuplicateRunner
from marathon.strategies import ACCEPTED, CREATED, LESSONS, WAIT_UNTIL_SLOTS, Strategy, Work

__all__ = ["SUCCESS_STATUS", "read_runner", "registration_endpoint", "require_json"]

log = logging.getLogger(__name__)

# The status each built-in strategy answers on success (the OpenAPI document says it); an
# exercise's own strategy is documented as 201.
SUCCESS_STATUS = {"concurrent": ACCEPTED, "queued": ACCEPTED}


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


def _no_room(runner: registration.Runner) -> HTTPException:
    """wait_until is full, and nothing of this registration is stored: a retry can succeed."""
    return HTTPException(
        status_code=503,
        detail="Too much background work pending; nothing was stored: try again shortly",
        headers={"Retry-After": "1"},
        extra={"id": str(runner.id)},  # GET /api/registrations/{id} shows `stored: false`
    )


async def _queue_confirmation(work: Work, runner: registration.Runner) -> None:
    """wait_until refused the confirmation of a stored runner: the durable queue sends it."""
    try:
        async with work.transaction() as tx:
            await work.enqueue(runner, tx)
    except (DatabaseError, DatabaseUnavailable, queue.QueueUnavailable):
        log.warning("registration %s: wait_until full and the queue unavailable", runner.id)
        raise HTTPException(  # like sequential's failed email: stored, and the user is told
            status_code=502,
            detail="The runner is registered, but its confirmation could not be started",
            extra={"id": str(runner.id)},
        ) from None
    log.warning("registration %s: wait_until full after the insert; confirmation queued", runner.id)


def registration_endpoint(name: str, strategy: Strategy) -> HTTPRouteHandler:
    """`POST /api/marathon/<name>`: the same validation and errors around each strategy."""

    success = SUCCESS_STATUS.get(name, CREATED)
    slots = WAIT_UNTIL_SLOTS.get(name, 0)  # a learner's strategy: 0, room is checked at handover

    @post(
        f"/api/marathon/{name}",
        name=name,
        summary=LESSONS[name].ordering if name in LESSONS else name,
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
        body = {"id": str(runner.id), "status_url": f"/api/registrations/{runner.id}"}
        with knobs.using(k), lifecycle.request_scope() as started:
            try:
                # At the door, before the strategy writes anything: so a 503 stores nothing.
                room = state.background.reserve(slots)
            except BackgroundFull:
                raise _no_room(runner) from None
            try:
                with room:
                    work = dataclasses.replace(state.work, wait_until=room.wait_until)
                    status = await strategy(work, runner)
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
                # Refused at the handover (no room reserved): never "try again" for a stored
                # runner (the retry would be a 409, and no email); the queue confirms it.
                if await state.db.get_runner(runner.id) is None:
                    raise _no_room(runner) from None
                await _queue_confirmation(state.work, runner)
                status, body = success, {**body, "confirmation": "queued: wait_until was full"}
        # Runs once the response's last byte is sent (the request span has ended).
        after = None
        if k.lifecycle == "serverless":
            after = BackgroundTask(
                lifecycle.freeze, started, state.background, k.wait_until_grace_s
            )
        return Response(body, status_code=status, background=after)

    return register
