"""Per-request knobs are the requester's alone: shared limits never come from a header, each
per-request knob has a cap, and a simulated slow database holds no pool connection."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from marathon import knobs
from marathon.registration import Runner, uuid7
from marathon.service import fake
from marathon.service.db import Database
from tests.conftest import count_runners

pytestmark = pytest.mark.anyio

SHARED = [k["name"] for k in knobs.describe() if k["scope"] == "shared"]


def test_the_shared_knobs_are_the_limits_every_client_shares() -> None:
    assert set(SHARED) == {
        "wait_until_max_pending",
        "wait_until_when_full",
        "wait_until_grace_s",
        "queue_max_attempts",
        "queue_retry_base_s",
        "queue_retry_cap_s",
        "worker_stalled_after_s",
    }
    caps = {k["name"]: k["request_max"] for k in knobs.describe()}
    assert caps["db_latency_ms"] == caps["email_latency_ms"] == 10_000


@pytest.mark.parametrize("name", SHARED)
async def test_a_header_may_not_change_a_shared_knob(
    client: httpx.AsyncClient, pg_url: str, name: str
) -> None:
    value = next(k["default"] for k in knobs.describe() if k["name"] == name)
    before = await count_runners(pg_url)
    r = await client.post(
        "/api/marathon/sequential",
        json=fake.runner(),
        headers={"Marathon-Knobs": f"email_latency_ms=0, {name}={value}"},
    )
    assert r.status_code == 400, r.text
    [error] = r.json()["extra"]
    assert error["key"] == "Marathon-Knobs"
    assert name in error["message"] and "shared" in error["message"]
    assert await count_runners(pg_url) == before


@pytest.mark.parametrize("header", ["db_latency_ms=60000", "email_latency_ms=10001"])
async def test_per_request_latency_is_capped(client: httpx.AsyncClient, header: str) -> None:
    r = await client.post(
        "/api/marathon/queued", json=fake.runner(), headers={"Marathon-Knobs": header}
    )
    assert r.status_code == 400
    assert "at most 10000 per request" in r.json()["extra"][0]["message"]


def test_a_job_carries_only_per_request_knobs() -> None:
    knobs.set_defaults(knobs.Knobs())
    k = knobs.Knobs().replace(
        {"email_latency_ms": 20, "queue_max_attempts": 50, "queue_retry_base_s": 0}
    )
    assert knobs.overrides_of(k) == "email_latency_ms=20"


async def test_simulated_database_latency_holds_no_pool_connection(pg_url: str) -> None:
    """One pool connection; a transaction waiting out 1.5 s of simulated latency does not
    keep another query from it."""
    db = Database(pg_url, max_size=1)
    await db.open()
    try:
        slow = knobs.Knobs().replace({"db_latency_ms": 1500, "db_latency_spread": 0})

        async def slow_insert() -> None:
            with knobs.using(slow):
                async with db.transaction() as tx:
                    runner = Runner(uuid7(), "A", "B", f"{uuid7()}@example.com", "x", "5k")
                    await db.insert_runner(runner, tx)

        task = asyncio.create_task(slow_insert())
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await db.get_runner(uuid7())
        assert time.monotonic() - started < 0.8, "the pool's one connection was held idle"
        await task
    finally:
        await db.close()
