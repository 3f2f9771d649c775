"""Tests for exercise 02: answer first, keep the promise (checked from the recorded spans)."""

from __future__ import annotations

from types import ModuleType

import pytest

from marathon import tracing
from marathon.lab.exercises.endpoint import Endpoint, ms
from marathon.lab.exercises.observed import outbox
from marathon.strategies import Strategy

pytestmark = pytest.mark.anyio

KNOBS = "email_latency_ms=150, email_latency_spread=0, db_latency_ms=20"
WHY = "store the runner, hand the email over, answer CREATED."


@pytest.fixture(scope="module")
def strategy(answer: ModuleType) -> Strategy:
    return answer.wait_until  # type: ignore[no-any-return]


@pytest.mark.task(1)
async def test_the_user_waits_for_the_insert(endpoint: Endpoint) -> None:
    reg = await endpoint.register(KNOBS, expect=201, why=WHY)
    inserts = reg.spans(tracing.INSERT_SPAN)
    assert inserts, "No insert span: the runner was never stored. Did you forget an `await`?"
    late = inserts[0].end_time - reg.trace.server.end_time
    assert late <= 0, (
        f"The response went out {ms(late, ns=True)} before the runner was stored: the user was "
        "told 201 for a registration that may still fail. Answer once the runner is stored."
    )


@pytest.mark.task(2)
async def test_the_user_does_not_wait_for_the_email(endpoint: Endpoint) -> None:
    reg = await endpoint.register(KNOBS, expect=201, why=WHY)
    emails = reg.spans(tracing.EMAIL_SPAN)
    assert emails, "No email span: the confirmation was never sent."
    assert emails[0].end_time > reg.trace.server.end_time, (
        "The email ended before the response: the user waited 150 ms for the email API. "
        "Let the app send it after the response instead of awaiting it."
    )


@pytest.mark.task(3)
async def test_the_app_owns_the_email(endpoint: Endpoint, sandbox: object) -> None:
    before = (await endpoint.client.get("/api/background")).json()["started"]
    reg = await endpoint.register(KNOBS, expect=201, why=WHY)
    started = (await endpoint.client.get("/api/background")).json()["started"] - before
    handed = started + len(reg.unowned)  # to wait_until, or as tasks of your own
    assert handed <= 1, (
        f"The email was handed over {handed} times, but the tests expected once: each "
        "hand-over is another try at the same email. Hand it to work.wait_until, once."
    )
    kept = reg.unowned and all(reg.unowned)
    assert started == 1 or not kept, (
        "You keep the email's task yourself (in a set): it no longer vanishes, but the app "
        "still does not own it: its failure goes unlogged and shutdown does not wait for it. "
        "Hand the email to work.wait_until, which does all three."
    )
    assert started == 1, (
        f"The app's wait_until started {started} piece(s) of work, but the tests expected 1: the "
        "email. A bare `asyncio.create_task` answers early too, but nobody owns that task: it "
        "can vanish, its error goes unseen, and shutdown cuts it off."
    )
    assert len(outbox(sandbox, reg.runner_id)) == 1, "The email was not delivered."  # type: ignore[arg-type]


@pytest.mark.task(4)
async def test_a_failed_email_is_logged(endpoint: Endpoint) -> None:
    before = (await endpoint.client.get("/api/background")).json()["failed"]
    await endpoint.register(KNOBS + ", email_failure_rate=1", expect=201, why=WHY)
    failed = (await endpoint.client.get("/api/background")).json()["failed"] - before
    assert failed == 1, (
        "The email API answered 500, but the app's wait_until saw no failure: your code "
        "swallowed it (a try/except around the email?), and nobody will ever know the runner "
        "got no confirmation. Hand the email itself to work.wait_until: it logs the failure."
    )


@pytest.mark.task(5)
async def test_a_duplicate_gets_409_and_no_email(endpoint: Endpoint, sandbox: object) -> None:
    reg = await endpoint.register(
        KNOBS + ", db_duplicate_rate=1",
        expect=409,
        why="the runner is a duplicate (its email address is taken): storing it must fail.",
    )
    sent = outbox(sandbox, reg.runner_id)  # type: ignore[arg-type]
    assert not sent and not reg.spans(tracing.EMAIL_SPAN), (
        "The endpoint answered 409, but a duplicate registration received a confirmation email: "
        "the email started before the insert had succeeded. Start it only once the runner is "
        "stored."
    )
