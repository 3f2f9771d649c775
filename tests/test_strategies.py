"""The orderings, proven from recorded spans: parent links and start/end times, never a sort."""

from __future__ import annotations

import uuid

import httpx
import pytest

from marathon import tracing
from marathon.local.stack import ThreadedServer
from marathon.service import fake
from marathon.strategies import STRATEGIES
from tests.conftest import QUICK, final_status, outbox, settled, trace_id_of

pytestmark = pytest.mark.anyio

EMAIL, INSERT = tracing.EMAIL_SPAN, tracing.INSERT_SPAN
# Generous margins: the email is slow, the database fast, so orderings cannot happen by luck.
SLOW_EMAIL = "email_latency_ms=300, email_latency_spread=0, db_latency_ms=20, db_latency_spread=0"

EXPECTED_STATUS = {
    "sequential": 201,
    "fire-and-forget": 201,
    "concurrent": 202,
    "wait-until": 201,
    "queued": 202,
}
IN_PROCESS = [s for s in STRATEGIES if s != "queued"]  # the email is a child of the request
# The request span's children: the work itself, or (queued) the insert and the job's enqueue.
CHILDREN = {s: {INSERT, EMAIL} for s in IN_PROCESS} | {"queued": {INSERT, "enqueue confirmation"}}


@pytest.mark.parametrize("strategy", list(STRATEGIES))
async def test_every_strategy_stores_the_runner_and_sends_one_email(
    client: httpx.AsyncClient, sandbox: ThreadedServer, strategy: str
) -> None:
    r = await client.post(
        f"/api/marathon/{strategy}", json=fake.runner(), headers={"Marathon-Knobs": QUICK}
    )
    assert r.status_code == EXPECTED_STATUS[strategy], r.text
    runner_id = r.json()["id"]
    assert uuid.UUID(runner_id).version == 7

    trace = await settled(trace_id_of(r))
    server = trace.server
    assert server.name == f"POST /api/marathon/{strategy}"
    assert server.attributes is not None
    assert server.attributes["http.route"] == f"/api/marathon/{strategy}"
    assert server.attributes[tracing.STRATEGY_ATTR] == strategy
    assert server.attributes[tracing.RUNNER_ATTR] == runner_id
    # Both pieces of work are children of the request span, wherever they ran.
    assert {s.name for s in trace.children(server)} == CHILDREN[strategy]
    assert not [s for s in trace.spans if s.name in ("http send", "http receive")]
    assert not [s for s in trace.spans if "send" in s.name and s.name.startswith("POST /api")]

    status = await final_status(client, runner_id)
    assert status["stored"] is True
    assert status["email"]["delivered"] is True
    assert len(outbox(sandbox, runner_id)) == 1


@pytest.mark.parametrize("strategy", IN_PROCESS)
async def test_email_span_wraps_the_sdk_call_and_the_sandbox(
    client: httpx.AsyncClient, strategy: str
) -> None:
    r = await client.post(
        f"/api/marathon/{strategy}", json=fake.runner(), headers={"Marathon-Knobs": QUICK}
    )
    trace = await settled(trace_id_of(r))
    email = trace.one(EMAIL)
    [http_call] = trace.children(email)
    assert http_call.attributes is not None
    assert http_call.name == "POST" and http_call.attributes.get("http.response.status_code") == 200
    [sandbox_span] = trace.children(http_call)  # the trace crosses into the other service
    assert sandbox_span.name == "POST /emails"
    assert sandbox_span.resource.attributes["service.name"] == "resend-sandbox"
    [insert_query] = trace.children(trace.one(INSERT))
    assert insert_query.name == "INSERT"


def _ends(span: object) -> int:
    end = getattr(span, "end_time", None)
    assert end is not None
    return int(end)


def _starts(span: object) -> int:
    start = getattr(span, "start_time", None)
    assert start is not None
    return int(start)


async def _slow_trace(client: httpx.AsyncClient, strategy: str):  # type: ignore[no-untyped-def]
    r = await client.post(
        f"/api/marathon/{strategy}", json=fake.runner(), headers={"Marathon-Knobs": SLOW_EMAIL}
    )
    assert r.status_code == EXPECTED_STATUS[strategy]
    trace = await settled(trace_id_of(r))
    return trace.server, trace.one(INSERT), trace.one(EMAIL)


async def test_sequential_answers_after_both(client: httpx.AsyncClient) -> None:
    server, insert, email = await _slow_trace(client, "sequential")
    assert _ends(insert) <= _starts(email), "the email starts only after the insert"
    assert _ends(insert) <= _ends(server)
    assert _ends(email) <= _ends(server), "the user waited for the email"


async def test_fire_and_forget_answers_before_the_email(client: httpx.AsyncClient) -> None:
    server, insert, email = await _slow_trace(client, "fire-and-forget")
    assert _ends(insert) <= _ends(server), "the insert is awaited"
    assert _ends(server) < _ends(email), "the response went out before the email finished"


async def test_concurrent_answers_before_the_insert(client: httpx.AsyncClient) -> None:
    server, insert, email = await _slow_trace(client, "concurrent")
    assert _ends(server) < _ends(insert), "the response went out before the row was stored"
    assert _starts(insert) < _ends(email) and _starts(email) < _ends(insert), "they overlap"


async def test_wait_until_answers_after_the_insert_and_before_the_email(
    client: httpx.AsyncClient,
) -> None:
    server, insert, email = await _slow_trace(client, "wait-until")
    assert _ends(insert) <= _ends(server), "the insert is awaited"
    assert _ends(insert) <= _starts(email), "the email starts after the insert"
    assert _ends(server) < _ends(email), "the response went out before the email finished"


def test_what_the_user_waits_for_on_a_real_server(
    settings: object, sandbox: ThreadedServer, quiet_gc: None
) -> None:
    """On real uvicorn: only sequential makes the user wait for a 1.2 s email.

    Each strategy's best of three, and a margin of half the email's latency: a strategy that
    waits for the email waits every time, while the stray pauses of a loaded 2-core machine
    (the suite runs on two workers) cannot fail the test.
    """
    from marathon.app import create_app

    waited: dict[str, list[float]] = {s: [] for s in IN_PROCESS}
    with ThreadedServer(create_app(settings)) as api, httpx.Client(base_url=api.url) as c:  # type: ignore[arg-type]
        c.get("/api/health")
        for _ in range(3):
            for strategy in IN_PROCESS:
                r = c.post(
                    f"/api/marathon/{strategy}",
                    json=fake.runner(),
                    headers={"Marathon-Knobs": "email_latency_ms=1200, email_latency_spread=0"},
                )
                assert r.status_code == EXPECTED_STATUS[strategy]
                waited[strategy].append(r.elapsed.total_seconds())
    best = {s: min(times) for s, times in waited.items()}
    assert best["sequential"] >= 1.2, waited
    for strategy in ("fire-and-forget", "concurrent", "wait-until"):
        assert best[strategy] < 0.6, waited


@pytest.mark.parametrize(("strategy", "delivered"), [("fire-and-forget", 0), ("wait-until", 1)])
def test_shutdown_right_after_the_response(
    settings: object, sandbox: ThreadedServer, strategy: str, delivered: int
) -> None:
    """uvicorn's shutdown drains wait_until work and cancels the bare task's email."""
    from marathon.app import create_app

    api = ThreadedServer(create_app(settings)).start()  # type: ignore[arg-type]
    with httpx.Client(base_url=api.url) as c:
        r = c.post(
            f"/api/marathon/{strategy}", json=fake.runner(), headers={"Marathon-Knobs": SLOW_EMAIL}
        )
    assert r.status_code == 201
    api.stop()  # what SIGTERM does: no new requests, drain, close the loop
    runner_id, trace_id = r.json()["id"], trace_id_of(r)
    email = next(s for s in tracing.STORE.spans(trace_id) if s.name == EMAIL)
    if delivered:
        assert email.status.is_ok
    else:
        assert email.status.description and email.status.description.startswith("cancelled")
    assert email.attributes is not None
    assert email.attributes["marathon.outcome"] == (
        "finished" if delivered else "cancelled_at_shutdown"
    )
    assert email.attributes["marathon.owner"] == ("wait_until" if delivered else "nobody")
    # Wait out the sandbox's latency: a send it had not accepted must never arrive.
    import time

    time.sleep(0.5)
    assert len(outbox(sandbox, runner_id)) == delivered
