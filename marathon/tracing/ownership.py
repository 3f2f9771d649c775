"""Who answers for a piece of work, and what became of it: the lesson's own span semantics.

Every work span carries `marathon.owner` (request, wait_until, nobody, queue: taken from the
task's context, so a task copies its owner with the request's context) and `marathon.outcome`
(finished, failed, cancelled at shutdown or by the freeze, dropped). docs/tracing.md reads them.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from opentelemetry import context as otel_context
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from marathon.tracing.scrub import scrub
from marathon.tracing.setup import tracer

__all__ = [
    "EMAIL_SPAN",
    "FREEZE_REASON",
    "INSERT_SPAN",
    "OUTCOME_ATTR",
    "OWNER_ATTR",
    "RUNNER_ATTR",
    "STRATEGY_ATTR",
    "WORK_SPANS",
    "Owner",
    "current_owner",
    "dropped",
    "owned_by",
    "record_error",
    "work_span",
    "working_for",
]

INSERT_SPAN = "insert runner"
EMAIL_SPAN = "send confirmation"
STRATEGY_ATTR = "marathon.strategy"
RUNNER_ATTR = "marathon.runner_id"
# Who answers for a piece of work, and what became of it (docs/tracing.md): on every work span.
OWNER_ATTR, OUTCOME_ATTR = "marathon.owner", "marathon.outcome"
Owner = Literal["request", "wait_until", "nobody", "queue"]
# The serverless freeze's cancellation messages start with this (marathon.lifecycle).
FREEZE_REASON = "serverless:"
# Span names of the work functions, for work that is dropped before its span could start.
WORK_SPANS = {"send_confirmation": "send confirmation", "insert_runner": "insert runner"}
_owner: contextvars.ContextVar[Owner] = contextvars.ContextVar("marathon_owner", default="request")


def record_error(span: Span, exc: BaseException) -> None:
    """Mark the span failed; the message is scrubbed, since errors may quote input."""
    message = scrub(str(exc))[:300]
    span.add_event(
        "exception", {"exception.type": type(exc).__name__, "exception.message": message}
    )
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {message}"))


def owned_by(owner: Owner, context: contextvars.Context) -> contextvars.Context:
    """`context`, in which work spans say `owner` answers for them (a task's context copy)."""
    context.run(_owner.set, owner)
    return context


@contextmanager
def working_for(owner: Owner) -> Iterator[None]:
    """Work spans inside the block say `owner` answers for them (a queue worker's attempt)."""
    token = _owner.set(owner)
    try:
        yield
    finally:
        _owner.reset(token)


def current_owner() -> Owner:
    return _owner.get()


def dropped(work: str, owner: Owner, reason: str) -> None:
    """A zero-length span for work that never started (back-pressure): visible, not silent."""
    name = WORK_SPANS.get(work, work)
    with tracer().start_as_current_span(
        name, attributes={OWNER_ATTR: owner, OUTCOME_ATTR: "dropped"}
    ) as span:
        span.add_event("dropped", {"reason": reason})
        span.set_status(Status(StatusCode.ERROR, f"dropped: {reason}"))


@contextmanager
def work_span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    context: otel_context.Context | None = None,
    links: Sequence[Link] = (),
    attributes: dict[str, Any] | None = None,
) -> Iterator[Span]:
    """A span around one piece of work that says who owns it (`marathon.owner`, from the
    task's context) and how it ended (`marathon.outcome`): finished, failed or cancelled."""
    with tracer().start_as_current_span(
        name,
        context=context,
        kind=kind,
        links=links,
        attributes={OWNER_ATTR: _owner.get(), **(attributes or {})},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except asyncio.CancelledError as exc:
            reason = str(exc) or "the event loop stopped before the work finished"
            span.add_event("cancelled", {"reason": reason})
            span.set_attribute("marathon.cancelled", True)
            # Cancelled by anything but the freeze means the process was stopping.
            frozen = reason.startswith(FREEZE_REASON)
            span.set_attribute(
                OUTCOME_ATTR, "cancelled_by_freeze" if frozen else "cancelled_at_shutdown"
            )
            span.set_status(Status(StatusCode.ERROR, f"cancelled: {reason}"))
            raise
        except Exception as exc:
            span.set_attribute(OUTCOME_ATTR, "failed")
            record_error(span, exc)
            raise
        span.set_attribute(OUTCOME_ATTR, "finished")
