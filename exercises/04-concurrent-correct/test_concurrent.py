"""Tests for exercise 04: concurrent, but correct (checked from the recorded spans)."""

from __future__ import annotations

from types import ModuleType

import pytest

from marathon import tracing
from marathon.lab.exercises.endpoint import Endpoint, ms
from marathon.lab.exercises.observed import outbox
from marathon.strategies import Strategy

pytestmark = pytest.mark.anyio

KNOBS = "email_latency_ms=100, email_latency_spread=0, db_latency_ms=150, db_latency_spread=0"
WHY = "answer ACCEPTED at once; the work happens in the background."


@pytest.fixture(scope="module")
def strategy(answer: ModuleType) -> Strategy:
    return answer.concurrent  # type: ignore[no-any-return]


@pytest.mark.task(1)
async def test_the_answer_comes_first(endpoint: Endpoint) -> None:
    reg = await endpoint.register(KNOBS, expect=202, why=WHY)
    response = reg.trace.server.end_time
    for name, what in ((tracing.INSERT_SPAN, "insert"), (tracing.EMAIL_SPAN, "email")):
        spans = reg.spans(name)
        assert spans, f"No {what} span: the {what} never ran."
        assert spans[0].end_time > response, (
            f"The {what} ended before the response: the user waited for the {what}. Hand the "
            "work to the app (`work.wait_until`) instead of awaiting it."
        )


@pytest.mark.task(2)
async def test_a_duplicate_is_not_confirmed(endpoint: Endpoint, sandbox: object) -> None:
    reg = await endpoint.register(KNOBS + ", db_duplicate_rate=1", expect=202, why=WHY)
    emails = reg.spans(tracing.EMAIL_SPAN)
    assert not emails and not outbox(sandbox, reg.runner_id), (  # type: ignore[arg-type]
        "The insert failed (a duplicate runner), yet the email was sent: a registration that "
        "failed was confirmed. The email must wait for the insert to succeed."
    )


@pytest.mark.task(3)
async def test_a_good_registration_is_confirmed_after_its_insert(
    endpoint: Endpoint, sandbox: object
) -> None:
    reg = await endpoint.register(KNOBS, expect=202, why=WHY)
    [insert], emails = reg.spans(tracing.INSERT_SPAN), reg.spans(tracing.EMAIL_SPAN)
    assert emails and outbox(sandbox, reg.runner_id), "The email was not delivered."  # type: ignore[arg-type]
    early = insert.end_time - emails[0].start_time
    assert early <= 0, f"The email started {ms(early, ns=True)} before the insert ended."


@pytest.mark.task(4)
async def test_the_app_owns_the_email_too(endpoint: Endpoint) -> None:
    reg = await endpoint.register(KNOBS, expect=202, why=WHY, drain=True)
    assert not reg.running_after_drain, (
        "Shutdown drained the app's work, and the email was still being sent: your owned "
        "function started the email as a task of its own (nobody owns that one) instead of "
        "awaiting it. Await the email inside the function you hand to work.wait_until."
    )


@pytest.mark.task(4)
async def test_a_database_outage_is_not_swallowed(endpoint: Endpoint) -> None:
    before = (await endpoint.client.get("/api/background")).json()["failed"]
    await endpoint.register(KNOBS + ", db_failure_rate=1", expect=202, why=WHY)
    failed = (await endpoint.client.get("/api/background")).json()["failed"] - before
    assert failed == 1, (
        "The database was down and the runner was not stored, but the app's wait_until saw "
        "no failure: your code swallowed it (a try/except around the insert?), and nobody "
        "will know this registration was lost. Let the error reach wait_until: it logs it."
    )
