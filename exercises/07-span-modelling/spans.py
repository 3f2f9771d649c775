"""Exercise 07: span modelling (see README.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from opentelemetry.trace import Span, SpanContext

from marathon import tracing  # noqa: F401 (you will need it
from marathon.registration import Runner

__all__ = ["attempt", "confirm"]


async def confirm(runner: Runner, send: Callable[[Runner], Awaitable[str]]) -> str:
    """Send the confirmation (`await send(runner)`, which returns the email id) inside a span
    named `tracing.EMAIL_SPAN` that identifies the runner without personal data."""
    raise NotImplementedError("exercise 07: a span around the email call")


@contextmanager
def attempt(request: SpanContext, runner_id: str) -> Iterator[Span]:
    """The span of one queue attempt at `runner_id`'s confirmation, for the `with` block: a
    trace of its own, linked to the `request` span."""
    raise NotImplementedError("exercise 07: link the attempt to the request")
    yield  # (a generator: the `with` block runs here)
