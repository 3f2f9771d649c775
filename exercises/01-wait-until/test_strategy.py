"""Tests for exercise 01: the wait-until ordering, checked from real spans."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from marathon import fake, tracing
from marathon.app import create_app
from marathon.settings import Settings
from marathon.stack import ThreadedServer
from tests.conftest import outbox, settled, trace_id_of

pytestmark = pytest.mark.anyio

_spec = importlib.util.spec_from_file_location("strategy", Path(__file__).with_name("strategy.py"))
assert _spec and _spec.loader
strategy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(strategy)

KNOBS = {"Marathon-Knobs": "email_latency_ms=300, email_latency_spread=0, db_latency_ms=20"}


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, strategies={"exercise": strategy.wait_until})
    transport = httpx.ASGITransport(app=app)
    async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


async def _register(client: httpx.AsyncClient) -> tuple[httpx.Response, Any]:
    r = await client.post("/api/marathon/exercise", json=fake.runner(), headers=KNOBS)
    assert r.status_code == 201, (
        f"Called POST /api/marathon/exercise. The endpoint answered {r.status_code}, but the "
        "tests expected 201 (CREATED): store the runner, hand the email over, return CREATED."
    )
    return r, await settled(trace_id_of(r))


@pytest.mark.task(1)
async def test_the_user_waits_for_the_insert(client: httpx.AsyncClient) -> None:
    _, trace = await _register(client)
    inserts = [s for s in trace.spans if s.name == tracing.INSERT_SPAN]
    assert inserts, "No insert span: call `await work.store(runner)`."
    assert inserts[0].end_time <= trace.server.end_time, (
        "The response went out before the runner was stored: `await work.store(runner)` "
        "before you return."
    )


@pytest.mark.task(2)
async def test_the_user_does_not_wait_for_the_email(client: httpx.AsyncClient) -> None:
    _, trace = await _register(client)
    emails = [s for s in trace.spans if s.name == tracing.EMAIL_SPAN]
    assert emails, "No email span: pass `work.confirm(runner)` to `work.wait_until(...)`."
    assert emails[0].end_time > trace.server.end_time, (
        "The email ended before the response: the user waited 300 ms for it. Do not await "
        "`work.confirm(runner)`; hand it to `work.wait_until(...)`."
    )


@pytest.mark.task(3)
async def test_wait_until_owns_the_email(
    client: httpx.AsyncClient, sandbox: ThreadedServer
) -> None:
    before = (await client.get("/api/background")).json()["started"]
    r, _ = await _register(client)
    started = (await client.get("/api/background")).json()["started"] - before
    assert started == 1, (
        f"wait_until started {started} piece(s) of work, but the tests expected 1: the email. "
        "A bare `asyncio.create_task` answers early too, but nobody owns that task."
    )
    assert len(outbox(sandbox, r.json()["id"])) == 1, "The email was not delivered."
