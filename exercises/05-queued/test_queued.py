"""Tests for exercise 05: queued, both or neither (spans and the registration's status)."""

from __future__ import annotations

from types import ModuleType

import pytest

from marathon import tracing
from marathon.lab.exercises.endpoint import Endpoint
from marathon.strategies import Strategy

pytestmark = pytest.mark.anyio

KNOBS = "email_latency_ms=100, email_latency_spread=0, db_latency_ms=10"
WHY = "store the runner and enqueue its job, then answer ACCEPTED."


@pytest.fixture(scope="module")
def strategy(answer: ModuleType) -> Strategy:
    return answer.queued  # type: ignore[no-any-return]


@pytest.mark.task(1)
async def test_the_user_does_not_wait_for_the_email(endpoint: Endpoint) -> None:
    reg = await endpoint.register(KNOBS, expect=202, why=WHY)
    assert not reg.spans(tracing.EMAIL_SPAN), (
        "The request sent the email itself: the user waited for the email API, and nothing "
        "retries it when that API is down. Enqueue a job instead: a worker sends it."
    )


@pytest.mark.task(2)
async def test_the_confirmation_job_exists(endpoint: Endpoint) -> None:
    reg = await endpoint.register(KNOBS, expect=202, why=WHY)
    status = (await endpoint.client.get(f"/api/registrations/{reg.runner_id}")).json()
    assert status["stored"], "The runner was not stored."
    assert status["email"].get("state") == "queued", (
        "The runner is stored, but no confirmation job exists: call `work.enqueue(runner, tx)`."
    )


@pytest.mark.task(3)
async def test_a_crash_between_the_writes_leaves_neither(endpoint: Endpoint) -> None:
    reg = await endpoint.register(
        KNOBS + ", queue_enqueue_failure_rate=1",
        expect=503,
        why="enqueueing failed (the tests made it fail), so nothing may be stored.",
    )
    status = (await endpoint.client.get(f"/api/registrations/{reg.runner_id}")).json()
    assert not status["stored"], (
        "Enqueueing failed and the endpoint answered 503, yet the runner was stored but its "
        "confirmation job was not: this runner will never get an email. Store and enqueue in "
        "one transaction, both on its connection."
    )
