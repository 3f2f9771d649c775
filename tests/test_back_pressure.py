"""Back-pressure says no at the door: a 503 from a full wait_until means nothing was stored (no
row, no email, no insert in its trace), so the retry its Retry-After asks for registers the
runner, with exactly one email. Work refused after a runner was stored is never a "try again":
the durable queue confirms it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from marathon.app import create_app
from marathon.local.stack import ThreadedServer
from marathon.service import fake
from marathon.service.settings import Settings
from marathon.strategies import STRATEGIES, WAIT_UNTIL_SLOTS
from tests.conftest import count_runners, final_status, settled, share, trace_id_of

pytestmark = pytest.mark.anyio

QUICK = "db_latency_ms=5, email_latency_ms=50, email_latency_spread=0"
SLOW = "db_latency_ms=5, email_latency_ms=1200, email_latency_spread=0"


def emails_to(sandbox: ThreadedServer, address: str) -> int:
    """How many emails the sandbox's outbox holds for this address."""
    r = httpx.get(f"{sandbox.url}/outbox")
    r.raise_for_status()
    return sum(address in e["to"] for e in r.json()["data"])


async def _background(client: httpx.AsyncClient) -> dict[str, int]:
    return dict((await client.get("/api/background")).json())


async def _occupy(client: httpx.AsyncClient, strategy: str) -> None:
    """Slow work of `strategy` pending in wait_until for a while."""
    r = await client.post(
        f"/api/marathon/{strategy}", json=fake.runner(), headers={"Marathon-Knobs": SLOW}
    )
    assert r.status_code in (201, 202), r.text


async def _drained(client: httpx.AsyncClient) -> None:
    """Until every piece of wait_until work has finished (at most 10 s)."""
    for _ in range(200):
        if (await _background(client))["pending"] == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"wait_until still busy: {await _background(client)}")


async def _post(client: httpx.AsyncClient, strategy: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post(
        f"/api/marathon/{strategy}", json=body, headers={"Marathon-Knobs": QUICK}
    )


@pytest.mark.parametrize(("strategy", "success"), [("wait-until", 201), ("concurrent", 202)])
async def test_a_503_stored_nothing_and_the_retry_registers_once(
    client: httpx.AsyncClient, sandbox: ThreadedServer, pg_url: str, strategy: str, success: int
) -> None:
    share(wait_until_max_pending=WAIT_UNTIL_SLOTS[strategy])
    before = await count_runners(pg_url) + 1  # with the runner that fills wait_until
    await _occupy(client, strategy)
    body = fake.runner()
    refused = await _post(client, strategy, body)
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "1"
    assert "nothing was stored" in refused.json()["detail"]
    trace = await settled(trace_id_of(refused))
    names = [s.name for s in trace.spans]
    assert names == [trace.server.name], f"the 503 did work: {names}"
    assert "wait_until.full" in [e.name for e in trace.server.events]
    status = (await client.get(f"/api/registrations/{refused.json()['extra']['id']}")).json()
    assert status["stored"] is False and status["email"]["delivered"] is False

    await _drained(client)  # the limit frees: the retry Retry-After asked for
    assert await count_runners(pg_url) == before, "the 503 stored a runner"
    assert emails_to(sandbox, body["email"]) == 0, "an email for a refused registration"
    retry = await _post(client, strategy, body)
    assert retry.status_code == success, retry.text
    await settled(trace_id_of(retry))
    await _drained(client)
    assert await count_runners(pg_url) == before + 1
    assert emails_to(sandbox, body["email"]) == 1
    assert (await _background(client))["reserved"] == 0


async def test_concurrent_is_admitted_with_both_pieces_or_neither(
    client: httpx.AsyncClient, sandbox: ThreadedServer, pg_url: str
) -> None:
    share(wait_until_max_pending=2)
    await _occupy(client, "wait-until")  # one piece pending: room for one more
    before = await count_runners(pg_url)
    body = fake.runner()
    refused = await _post(client, "concurrent", body)  # needs two
    assert refused.status_code == 503, refused.text
    assert await count_runners(pg_url) == before
    assert (await _post(client, "wait-until", fake.runner())).status_code == 201  # needs one
    await _drained(client)
    assert emails_to(sandbox, body["email"]) == 0


async def test_a_burst_stores_exactly_the_runners_it_said_yes_to(
    client: httpx.AsyncClient, sandbox: ThreadedServer, pg_url: str
) -> None:
    share(wait_until_max_pending=5)
    before = await count_runners(pg_url)
    bodies = [fake.runner() for _ in range(30)]
    answers = await asyncio.gather(
        *(
            client.post("/api/marathon/wait-until", json=b, headers={"Marathon-Knobs": SLOW})
            for b in bodies
        )
    )
    statuses = [r.status_code for r in answers]
    assert set(statuses) == {201, 503}, statuses
    await _drained(client)
    assert await count_runners(pg_url) == before + statuses.count(201)
    for body, status in zip(bodies, statuses, strict=True):
        assert emails_to(sandbox, body["email"]) == (status == 201)
    assert (await _background(client))["reserved"] == 0


async def test_room_is_given_back_when_the_strategy_fails(client: httpx.AsyncClient) -> None:
    share(wait_until_max_pending=2)
    body = fake.runner()
    assert (await _post(client, "wait-until", body)).status_code == 201
    await _drained(client)
    assert (await _post(client, "wait-until", body)).status_code == 409  # same address
    r = await client.post(
        "/api/marathon/concurrent",
        json=fake.runner(),
        headers={"Marathon-Knobs": "db_failure_rate=1"},
    )
    assert r.status_code == 202  # the insert fails in the background
    await _drained(client)
    r = await client.post(
        "/api/marathon/wait-until",
        json=fake.runner(),
        headers={"Marathon-Knobs": "db_failure_rate=1"},
    )
    assert r.status_code == 503 and "database" in r.json()["detail"]
    assert (await _background(client))["reserved"] == 0
    assert (await _post(client, "concurrent", fake.runner())).status_code == 202, "room leaked"


@pytest.mark.parametrize("strategy", list(STRATEGIES))
async def test_each_strategy_reserves_what_it_hands_to_wait_until(
    client: httpx.AsyncClient, strategy: str
) -> None:
    before = (await _background(client))["started"]
    r = await _post(client, strategy, fake.runner())
    assert r.status_code in (201, 202), r.text
    await settled(trace_id_of(r))
    started = (await _background(client))["started"] - before
    assert started == WAIT_UNTIL_SLOTS.get(strategy, 0)


async def test_refused_after_the_insert_the_queue_confirms_it(
    settings: Settings, sandbox: ThreadedServer, pg_url: str
) -> None:
    """A strategy with no room reserved (a learner's) stores, then finds wait_until full: the
    answer says the runner is registered, and the email still comes, once."""
    app = create_app(settings, strategies={"exercise": STRATEGIES["wait-until"]})
    transport = httpx.ASGITransport(app=app)
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c,
    ):
        share(wait_until_max_pending=1)
        await _occupy(c, "exercise")
        body = fake.runner()
        r = await _post(c, "exercise", body)
        assert r.status_code == 201, r.text
        assert "retry-after" not in r.headers
        assert r.json()["confirmation"] == "queued: wait_until was full"
        status = await final_status(c, r.json()["id"])
        assert status["stored"] is True and status["email"]["state"] == "sent"
        assert (await _post(c, "exercise", body)).status_code == 409  # no need to retry
        await _drained(c)
        # And if the queue cannot take it either: the truth, no Retry-After.
        await _occupy(c, "exercise")
        r = await c.post(
            "/api/marathon/exercise",
            json=fake.runner(),
            headers={"Marathon-Knobs": f"{QUICK}, queue_enqueue_failure_rate=1"},
        )
        assert r.status_code == 502 and "retry-after" not in r.headers
        assert r.json()["detail"].startswith("The runner is registered")
        await _drained(c)
    assert emails_to(sandbox, body["email"]) == 1
