"""The serverless lifecycle cuts work off with a span status that says why; wait_until is
bounded and says so when full."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from marathon import tracing
from marathon.local.stack import ThreadedServer
from marathon.service import fake
from tests.conftest import count_runners, outbox, settled, share, trace_id_of

pytestmark = pytest.mark.anyio

SERVERLESS = "lifecycle=serverless, email_latency_ms=300, email_latency_spread=0, db_latency_ms=5"


async def test_serverless_cuts_off_work_outside_wait_until(
    client: httpx.AsyncClient, sandbox: ThreadedServer, quiet_gc: None
) -> None:
    r = await client.post(
        "/api/marathon/fire-and-forget", json=fake.runner(), headers={"Marathon-Knobs": SERVERLESS}
    )
    assert r.status_code == 201
    trace = await settled(trace_id_of(r))
    email = trace.one(tracing.EMAIL_SPAN)
    assert email.status.description is not None
    assert email.status.description.startswith("cancelled: serverless: instance frozen")
    assert email.attributes is not None
    assert email.attributes[tracing.OUTCOME_ATTR] == "cancelled_by_freeze"
    assert email.attributes[tracing.OWNER_ATTR] == "nobody"
    assert email.end_time is not None and trace.server.end_time is not None
    assert email.end_time - trace.server.end_time < 200_000_000, "cut off right after"
    await asyncio.sleep(0.4)  # past the sandbox's latency: nothing arrives late either
    assert outbox(sandbox, r.json()["id"]) == []


async def test_serverless_keeps_wait_until_work_for_the_grace_period(
    client: httpx.AsyncClient, sandbox: ThreadedServer
) -> None:
    r = await client.post(
        "/api/marathon/wait-until", json=fake.runner(), headers={"Marathon-Knobs": SERVERLESS}
    )
    trace = await settled(trace_id_of(r))
    assert trace.one(tracing.EMAIL_SPAN).status.is_ok
    assert len(outbox(sandbox, r.json()["id"])) == 1


async def test_serverless_cancels_wait_until_work_after_the_grace_period(
    client: httpx.AsyncClient, sandbox: ThreadedServer
) -> None:
    share(wait_until_grace_s=0.1)  # shared: the instructor's, not the header's
    r = await client.post(
        "/api/marathon/wait-until", json=fake.runner(), headers={"Marathon-Knobs": SERVERLESS}
    )
    trace = await settled(trace_id_of(r))
    description = trace.one(tracing.EMAIL_SPAN).status.description
    assert description == "cancelled: serverless: wait_until grace period of 0.1 s ran out"
    attributes = trace.one(tracing.EMAIL_SPAN).attributes or {}
    assert attributes[tracing.OUTCOME_ATTR] == "cancelled_by_freeze"
    assert attributes[tracing.OWNER_ATTR] == "wait_until"
    await asyncio.sleep(0.4)
    assert outbox(sandbox, r.json()["id"]) == []


async def test_a_full_wait_until_rejects_before_anything_is_written(
    client: httpx.AsyncClient, pg_url: str
) -> None:
    share(wait_until_max_pending=2)
    knobs = "email_latency_ms=400, db_latency_ms=5"
    slow = "email_latency_ms=1500, db_latency_ms=1500"
    first = await client.post(
        "/api/marathon/concurrent", json=fake.runner(), headers={"Marathon-Knobs": slow}
    )  # two pieces pending for 1.5 s
    assert first.status_code == 202
    assert (await client.get("/api/background")).json()["pending"] == 2
    before = await count_runners(pg_url)
    for strategy in ("concurrent", "wait-until"):  # both refused at the door
        r = await client.post(
            f"/api/marathon/{strategy}", json=fake.runner(), headers={"Marathon-Knobs": knobs}
        )
        assert r.status_code == 503 and r.headers["retry-after"] == "1", strategy
        assert "nothing was stored" in r.json()["detail"]
        status = (await client.get(f"/api/registrations/{r.json()['extra']['id']}")).json()
        assert status["stored"] is False, strategy
    assert await count_runners(pg_url) == before
    assert (await client.get("/api/background")).json()["reserved"] == 0


async def test_a_full_wait_until_can_drop_instead(
    client: httpx.AsyncClient, sandbox: ThreadedServer
) -> None:
    share(wait_until_max_pending=2, wait_until_when_full="drop")
    knobs = "email_latency_ms=400, db_latency_ms=5"
    await client.post(
        "/api/marathon/concurrent", json=fake.runner(), headers={"Marathon-Knobs": knobs}
    )
    dropped = await client.post(
        "/api/marathon/concurrent", json=fake.runner(), headers={"Marathon-Knobs": knobs}
    )
    assert dropped.status_code == 202, "said yes..."
    background = (await client.get("/api/background")).json()
    assert background["dropped"] == 2
    await asyncio.sleep(0.6)
    status = (await client.get(f"/api/registrations/{dropped.json()['id']}")).json()
    assert status["stored"] is False and status["email"]["delivered"] is False, "...did nothing"
