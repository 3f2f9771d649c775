"""Tests for exercise 01: one thing after another (checked from the recorded spans)."""

from __future__ import annotations

from types import ModuleType

import pytest

from marathon import tracing
from marathon.lab.exercises.endpoint import Endpoint, ms
from marathon.strategies import Strategy

pytestmark = pytest.mark.anyio

KNOBS = "email_latency_ms=100, email_latency_spread=0, db_latency_ms=20"
WHY = "store the runner, send the email, then return CREATED."


@pytest.fixture(scope="module")
def strategy(answer: ModuleType) -> Strategy:
    return answer.sequential  # type: ignore[no-any-return]


@pytest.mark.task(1)
async def test_the_runner_is_stored_before_the_answer(endpoint: Endpoint) -> None:
    reg = await endpoint.register(KNOBS, expect=201, why=WHY)
    inserts = reg.spans(tracing.INSERT_SPAN)
    assert inserts, (
        "No insert span: the runner was never stored. Did you forget `await` before "
        "`work.store(runner)`? Calling an async function only creates a coroutine."
    )
    late = inserts[0].end_time - reg.trace.server.end_time
    assert late <= 0, f"The answer went out {ms(late, ns=True)} before the runner was stored."


@pytest.mark.task(2)
async def test_the_email_is_sent_before_the_answer(endpoint: Endpoint) -> None:
    reg = await endpoint.register(KNOBS, expect=201, why=WHY)
    emails = reg.spans(tracing.EMAIL_SPAN)
    assert emails, (
        "No email span: the email was never sent. Did you forget `await` before "
        "`work.confirm(runner)`?"
    )
    late = emails[0].end_time - reg.trace.server.end_time
    assert late <= 0, f"The answer went out {ms(late, ns=True)} before the email was sent."


@pytest.mark.task(3)
async def test_the_answer_is_201(endpoint: Endpoint) -> None:
    reg = await endpoint.register(KNOBS, expect=201, why=WHY)
    assert reg.response.json()["id"] == reg.runner_id
