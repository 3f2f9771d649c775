"""Tests for exercise 08: survive the serverless freeze (checked from the recorded spans)."""

from __future__ import annotations

from types import ModuleType

import pytest

from marathon import tracing
from marathon.lab.exercises.endpoint import Endpoint
from marathon.lab.exercises.observed import outbox
from marathon.strategies import Strategy

pytestmark = pytest.mark.anyio

KNOBS = "lifecycle=serverless, email_latency_ms=150, email_latency_spread=0, db_latency_ms=10"
WHY = "store the runner and answer CREATED."


@pytest.fixture(scope="module")
def strategy(answer: ModuleType) -> Strategy:
    return answer.register  # type: ignore[no-any-return]


@pytest.mark.task(1)
async def test_the_email_survives_the_freeze(endpoint: Endpoint, sandbox: object) -> None:
    reg = await endpoint.register(KNOBS, expect=201, why=WHY)
    emails = reg.spans(tracing.EMAIL_SPAN)
    assert emails, "No email span: the confirmation was never sent."
    status = emails[0].status.description or ""
    assert not status.startswith("cancelled"), (
        "The email was cut off when the instance froze after the response (its span says "
        f"{status!r}): the runtime only keeps work alive that it was told about."
    )
    assert len(outbox(sandbox, reg.runner_id)) == 1, "The email was not delivered."  # type: ignore[arg-type]


@pytest.mark.task(2)
async def test_the_user_does_not_wait_for_the_email(endpoint: Endpoint) -> None:
    reg = await endpoint.register(KNOBS, expect=201, why=WHY)
    [email] = reg.spans(tracing.EMAIL_SPAN)
    assert email.end_time > reg.trace.server.end_time, (
        "The email ended before the response: it survives, but the user waited 150 ms for it."
    )


@pytest.mark.task(3)
async def test_a_duplicate_gets_no_email(endpoint: Endpoint, sandbox: object) -> None:
    reg = await endpoint.register(
        KNOBS + ", db_duplicate_rate=1", expect=409, why="the runner is a duplicate."
    )
    assert not reg.spans(tracing.EMAIL_SPAN) and not outbox(sandbox, reg.runner_id), (  # type: ignore[arg-type]
        "The endpoint answered 409, but a duplicate registration received a confirmation email: "
        "hand the email over only once the runner is stored."
    )
