"""What a client can ask about a registration afterwards: its status, once or as a stream of
server-sent events woken by the database's NOTIFY."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

from litestar import get
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from litestar.response import ServerSentEvent, ServerSentEventMessage

from marathon.routes.registration_openapi import Problem
from marathon.service import confirmations
from marathon.service.outbox import email_delivered
from marathon.service.status_watch import StatusWatch, TooManyStreams

__all__ = ["ROUTES"]

SSE_FALLBACK_S, SSE_LIMIT_S = 5.0, 300.0


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
    the database's NOTIFY, not by polling; at most `status_watch.MAX_STREAMS` at once (then 503)."""
    changes: StatusWatch = state.status_watch
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
