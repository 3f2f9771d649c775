"""Sends first, then records a span: the span measures nothing.

expect: not inside the span
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanContext, SpanKind

from marathon import tracing
from marathon.registration import Runner

__all__ = ["attempt", "confirm"]


async def confirm(runner: Runner, send: Callable[[Runner], Awaitable[str]]) -> str:
    """The email call in its own span; work_span scrubs error messages (they may quote the
    address) instead of recording the raw exception."""
    email_id = await send(runner)
    with tracing.work_span(tracing.EMAIL_SPAN, attributes={tracing.RUNNER_ATTR: str(runner.id)}):
        return email_id


@contextmanager
def attempt(request: SpanContext, runner_id: str) -> Iterator[Span]:
    """A new trace (an empty parent context), linked to the request span."""
    with tracing.work_span(
        "confirmation attempt",
        kind=SpanKind.CONSUMER,
        context=Context(),  # no parent: without it, the current span would become one
        links=[Link(request)],
        attributes={tracing.RUNNER_ATTR: runner_id},
    ) as span:
        yield span
