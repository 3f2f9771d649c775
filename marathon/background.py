"""`wait_until`: the Python counterpart of Cloudflare's `ctx.waitUntil`.

Work handed to `wait_until` runs after (or while) the response is sent, and the app answers for it:

- it keeps a strong reference to every task (the event loop only keeps weak ones);
- the task copies the request's context, so its spans are children of the request span and
  may end after it, and it sees the request's knobs;
- a failure is logged with the trace id (the work's own span already records it);
- shutdown drains pending work for a grace period, then cancels what is left;
- `pending` says how much work is in flight, and it is bounded by `wait_until_max_pending`.

The bound is checked at the door, not at the handover. A request that will hand work over
first `reserve`s room for it, before it writes anything: all the slots it needs, or none. When
wait_until is full, `wait_until_when_full=reject` refuses the request there (`BackgroundFull`,
a 503 with Retry-After): nothing is stored, so the retry the 503 asks for can succeed. Checked
only at the handover, after the insert, the same 503 would tell a stored runner to try again:
the retry gets a 409, and the confirmation never comes. With `drop` the request goes on and its
work is dropped at the handover (lost, logged). Slots a request did not use are given back when
it ends (the `with` block), also when it fails. Work handed over without a reservation (a
learner's strategy) needs free room at the handover.

Usage::

    background = Background()
    with background.reserve(1) as room:       # at the door: BackgroundFull if full
        await store(runner)
        room.wait_until(send_confirmation(runner))
    ...
    await background.drain(grace_s=30)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace

from marathon import knobs, lifecycle, tracing
from marathon.tracing import scrub

__all__ = ["Background", "BackgroundFull", "DrainReport", "Reservation"]

log = logging.getLogger(__name__)


class BackgroundFull(Exception):
    """wait_until has no room: `wait_until_max_pending` pieces of work pending or reserved."""


@dataclass(frozen=True)
class DrainReport:
    finished: int
    cancelled: int


class Background:
    """An app-owned registry of background work."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.reserved = 0  # slots held by requests that have not handed their work over yet
        self.started = 0
        self.failed = 0
        self.dropped = 0

    def _room_for(self, pieces: int) -> bool:
        limit = knobs.current().wait_until_max_pending
        return pieces == 0 or self.pending + self.reserved + pieces <= limit

    def reserve(self, pieces: int) -> Reservation:
        """Hold room for `pieces` pieces of one request's work, all or none, before it writes
        anything. Full: `BackgroundFull` (reject), or an empty reservation (drop)."""
        if not self._room_for(pieces):
            if knobs.current().wait_until_when_full == "reject":
                trace.get_current_span().add_event(
                    "wait_until.full", {"pending": self.pending, "reserved": self.reserved}
                )
                raise BackgroundFull(f"{self.pending} pieces of work pending")
            pieces = 0  # drop: the handover finds no room and drops the work
        self.reserved += pieces
        return Reservation(self, pieces)

    def wait_until(self, *work: Coroutine[Any, Any, Any]) -> None:
        """Run each coroutine in the background, concurrently, in the current context."""
        self._hand_over(work, reserved=0)

    def _hand_over(self, work: tuple[Coroutine[Any, Any, Any], ...], reserved: int) -> bool:
        """Start `work`, all or none (False: dropped); `reserved` of its pieces have room held
        already."""
        k = knobs.current()
        if not self._room_for(len(work) - reserved):
            for coro in work:
                coro.close()  # never started: nothing to cancel, no "never awaited" warning
            if k.wait_until_when_full == "reject":
                raise BackgroundFull(f"{self.pending} pieces of work pending")
            self.dropped += len(work)
            trace.get_current_span().add_event("wait_until.dropped", {"count": len(work)})
            for coro in work:  # a zero-length span each, marathon.outcome = dropped
                tracing.dropped(
                    getattr(coro, "__name__", "work"), "wait_until", f"{self.pending} pending: full"
                )
            log.warning("wait_until is full (%d pending): dropped %d", self.pending, len(work))
            return False
        self.reserved -= reserved
        for coro in work:
            # The copy of the context carries the trace context and the knobs, but no request
            # scope: in the serverless lifecycle, this work is ours, not the request's.
            task = asyncio.create_task(
                coro, context=tracing.owned_by("wait_until", lifecycle.outside_scope())
            )
            self._tasks.add(task)
            self.started += 1
            task.add_done_callback(self._finished)
        return True

    def owns(self, task: asyncio.Task[Any]) -> bool:
        return task in self._tasks

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()  # retrieving it also keeps asyncio from warning "never retrieved"
        if exc is not None:
            self.failed += 1
            trace_id = trace.get_current_span().get_span_context().trace_id
            log.warning(
                "background work failed: %s: %s (trace %032x)",
                type(exc).__name__,
                scrub(str(exc)),
                trace_id,
                extra={"trace_id": f"{trace_id:032x}"},
            )

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, grace_s: float) -> DrainReport:
        """Wait up to `grace_s` for pending work, then cancel the rest (its spans say why)."""
        if not self._tasks:
            return DrainReport(0, 0)
        log.info("draining %d background task(s), grace period %g s", len(self._tasks), grace_s)
        tasks = set(self._tasks)
        done, late = await asyncio.wait(tasks, timeout=grace_s)
        for task in late:
            task.cancel(f"shutdown grace period of {grace_s:g} s ran out")
        if late:
            await asyncio.wait(late)
            log.warning("cancelled %d background task(s) at shutdown", len(late))
        return DrainReport(finished=len(done), cancelled=len(late))


class Reservation:
    """Room held in wait_until for one request (`Background.reserve`). Its `wait_until` uses
    that room first; leaving the `with` block gives back what the request did not use."""

    def __init__(self, background: Background, slots: int) -> None:
        self._background = background
        self.slots = slots

    def wait_until(self, *work: Coroutine[Any, Any, Any]) -> None:
        """`Background.wait_until`, drawing on the room held for this request."""
        use = min(self.slots, len(work))
        if self._background._hand_over(work, reserved=use):
            self.slots -= use

    def release(self) -> None:
        self._background.reserved -= self.slots
        self.slots = 0

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
