"""Keeps a "pseudonymous" key to find a runner's traces: a digest of the address. The same
address always gives the same digest: it still points at one person.

expect: derived from personal data
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanContext, SpanKind

from marathon import tracing
from marathon.registration import Runner

__all__ = ["attempt", "confirm"]


async def confirm(runner: Runner, send: Callable[[Runner], Awaitable[str]]) -> str:
    digest = hashlib.blake2b(runner.email.strip().lower().encode(), digest_size=8).hexdigest()
    with tracing.work_span(
        tracing.EMAIL_SPAN,
        attributes={tracing.RUNNER_ATTR: str(runner.id), "user.key": digest},
    ):
        return await send(runner)


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
