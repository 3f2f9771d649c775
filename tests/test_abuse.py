"""The issue's abuse table, replayed small: each abuse gets a clear status or has no effect,
and a well-behaved client registering at the same time is not slowed down or refused.
(Other rows live beside their fix: test_per_request_knobs, test_shared_changes,
test_strict_input, test_bounds, test_one_email_per_address.)"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from marathon import fake
from marathon.app import create_app
from marathon.settings import Settings
from marathon.stack import ThreadedServer

pytestmark = pytest.mark.anyio

QUICK = {"Marathon-Knobs": "db_latency_ms=0, email_latency_ms=0"}


@pytest.fixture
def api(settings: Settings) -> Iterator[ThreadedServer]:
    with ThreadedServer(create_app(settings)) as server:
        yield server


async def _well_behaved(client: httpx.AsyncClient) -> tuple[int, float]:
    started = time.monotonic()
    r = await client.post("/api/marathon/queued", json=fake.runner(), headers=QUICK)
    return r.status_code, time.monotonic() - started


async def test_slow_database_requests_hold_no_pool_connection(
    api: ThreadedServer, quiet_gc: None
) -> None:
    """Row 1: more slow queued registrations than the pool has connections (10)."""
    slow = {"Marathon-Knobs": "db_latency_ms=5000, db_latency_spread=0, email_latency_ms=0"}
    async with httpx.AsyncClient(base_url=api.url, timeout=60) as client:
        abusers = [
            asyncio.create_task(
                client.post("/api/marathon/queued", json=fake.runner(), headers=slow)
            )
            for _ in range(12)
        ]
        await asyncio.sleep(0.5)
        status, took = await _well_behaved(client)
        assert status == 202 and took < 2.5, f"waited {took:.1f} s behind the slow ones"
        assert {r.status_code for r in await asyncio.gather(*abusers)} == {202}


@pytest.mark.parametrize(
    "header",
    [
        "db_latency_ms=60000",  # row 1 as filed
        "wait_until_max_pending=1000000, email_latency_ms=60000",  # row 2
        "email_latency_ms=60000, queue_retry_base_s=0, queue_max_attempts=50",  # row 3
    ],
)
async def test_header_abuse_is_refused_while_others_register(
    api: ThreadedServer, header: str
) -> None:
    async with httpx.AsyncClient(base_url=api.url, timeout=60) as client:
        abusers = [
            client.post(
                "/api/marathon/concurrent", json=fake.runner(), headers={"Marathon-Knobs": header}
            )
            for _ in range(20)
        ]
        *refused, (status, took) = await asyncio.gather(*abusers, _well_behaved(client))
    assert {r.status_code for r in refused} == {400}
    assert status == 202 and took < 5
