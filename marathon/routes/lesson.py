"""`/api/lesson/...`: the room around the lesson. Which steps this browser may run (a step that
changes what everyone shares is the instructor's beyond loopback), and the latest result the
instructor produced for each step, so that a learner's screen shows it too, live.

The results live in memory (`LessonResults`, one per app): a restart forgets them, as it forgets
the knobs in force.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from litestar import Request, get, put
from litestar.datastructures import State
from litestar.exceptions import NotFoundException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.response import ServerSentEvent, ServerSentEventMessage

from marathon.routes.registration_openapi import Problem
from marathon.service import privacy
from marathon.service.instructor import is_instructor, require_admin, shared_changes
from marathon.views import lesson_steps

__all__ = ["ROUTES", "LessonResults", "room"]

# What a published outcome may carry: the lesson's facts, never a runner's name or address.
OUTCOME_KEYS = (
    "strategy",
    "status",
    "client_ms",
    "id",
    "trace_id",
    "stored",
    "delivered",
    "verdicts",
    "waited_for_email",
)
MAX_OUTCOMES = 200  # a burst step registers 30
STREAM_S = 15.0  # then the stream ends and the browser's EventSource reconnects: a server
# that is stopping is never held up for long by a learner's open stream.


@dataclass
class LessonResults:
    """The latest result per step, each numbered (`seq`) in the order published; `changed` is
    set (then replaced) at each publication."""

    latest: dict[int, dict[str, Any]] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    seq: int = 0

    def publish(self, number: int, outcomes: list[dict[str, Any]]) -> dict[str, Any]:
        self.seq += 1
        result = {
            "step": number,
            "seq": self.seq,
            "outcomes": outcomes,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.latest[number] = result
        self.changed.set()
        self.changed = asyncio.Event()
        return result


NO_RESULT = {404: ResponseSpec(data_container=Problem, description="No such step, or no result")}


def _step(number: int) -> lesson_steps.Step:
    try:
        return lesson_steps.step(number)
    except IndexError as e:
        raise NotFoundException(detail=str(e)) from None


def _notice(state: State) -> str:
    who = shared_changes(state.settings)
    if who == "nobody":
        return (
            f"This step changes what everyone on this server shares, and this server listens on"
            f" {state.settings.bind_host} without an instructor's token: nobody can run it here."
            " Start the server with MARATHON_ADMIN_TOKEN=<a secret>, or run the lesson on your"
            " own laptop (marathon serve)."
        )
    return (
        "The instructor runs this step (it changes what everyone on this server shares): watch"
        " the projector. Make your prediction; the instructor's result appears here as soon as"
        " they run it."
    )


def room(request: Request[Any, Any, State]) -> dict[str, Any]:
    """For this request: who may run shared steps here (`anyone` on loopback, the `instructor`
    with the token, or `nobody`), whether it is the instructor's, and the steps it watches
    rather than runs, with the sentence to show on them."""
    state: State = request.app.state
    instructor = is_instructor(request)
    watch = [] if instructor else [i for i, s in enumerate(lesson_steps.STEPS, 1) if s.shared]
    return {
        "shared_changes": shared_changes(state.settings),
        "instructor": instructor,
        "watch_steps": watch,
        "notice": _notice(state) if watch else "",
    }


@get("/api/lesson/room")
async def lesson_room(request: Request[Any, Any, State]) -> dict[str, Any]:
    """The lesson as this browser's token allows it: see `room` (the page embeds the answer
    for a browser without a token, and asks again with the instructor's)."""
    return room(request)


@put("/api/lesson/{number:int}/result", responses=NO_RESULT)
async def publish_result(
    request: Request[Any, Any, State],
    state: State,
    number: FromPath[int],
    data: JSONBody[dict[str, Any]],
) -> dict[str, Any]:
    """The instructor's result for step `number` (`{"outcomes": [...]}`, as the page computed
    it), for every learner's screen. Shared, so it needs the instructor's token beyond loopback."""
    require_admin(request)
    _step(number)
    outcomes = data.get("outcomes")
    if not isinstance(outcomes, list) or len(outcomes) > MAX_OUTCOMES:
        raise ValidationException(detail=f"outcomes: a list of at most {MAX_OUTCOMES} outcomes")
    if not all(isinstance(o, dict) for o in outcomes):
        raise ValidationException(detail="outcomes: each an object")
    kept = [{k: o[k] for k in OUTCOME_KEYS if k in o} for o in outcomes]
    for o in kept:  # the room sees it: a runner id as others may see one (service.privacy)
        if o.get("id") is not None:
            o["id"] = privacy.runner_id(o["id"], full=False)
    results: LessonResults = state.lesson_results
    return results.publish(number, kept)


@get("/api/lesson/{number:int}/result", responses=NO_RESULT)
async def latest_result(state: State, number: FromPath[int]) -> dict[str, Any]:
    """The latest result published for step `number`; 404 until the instructor runs it."""
    _step(number)
    results: LessonResults = state.lesson_results
    if number not in results.latest:
        raise NotFoundException(detail=f"no result for step {number} yet")
    return results.latest[number]


@get("/api/lesson/results/events")
async def result_events(state: State) -> ServerSentEvent:
    """Every step's latest result, then each new one as it is published (server-sent events
    named `result`); the stream ends after a while and the browser reconnects by itself."""
    results: LessonResults = state.lesson_results

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STREAM_S
        last = 0  # the newest `seq` this stream has sent
        while True:
            changed = results.changed
            for result in sorted(results.latest.values(), key=lambda r: r["seq"]):
                if result["seq"] > last:
                    last = result["seq"]
                    data = json.dumps(result)
                    yield ServerSentEventMessage(data=data, event="result", retry=1000)
            left = deadline - loop.time()
            if left <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), left)

    return ServerSentEvent(stream())


ROUTES = [lesson_room, publish_result, latest_result, result_events]
