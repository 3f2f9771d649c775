"""Part two: the durable queue, with real workers on real PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from marathon import tracing
from marathon.app import create_app
from marathon.local.stack import ThreadedServer
from marathon.service import fake
from marathon.service.settings import Settings
from tests.conftest import count_runners, outbox, share

FAST_RETRY = "email_latency_ms=20, db_latency_ms=5"


@pytest.fixture
def api(settings: Settings) -> Iterator[ThreadedServer]:
    share(queue_retry_base_s=0.05)  # the retry policy is shared: not the header's to set
    with ThreadedServer(create_app(settings)) as server:  # with its in-process worker
        yield server


def _register(api: ThreadedServer, knobs: str = FAST_RETRY, **fields: Any) -> httpx.Response:
    return httpx.post(
        f"{api.url}/api/marathon/queued",
        json=fake.runner(**fields),
        headers={"Marathon-Knobs": knobs},
        timeout=30,
    )


def _final(api: ThreadedServer, runner_id: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status: dict[str, Any] = httpx.get(f"{api.url}/api/registrations/{runner_id}").json()
        if status["email"]["state"] in ("sent", "dead"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"still {status['email']} after {timeout} s")


def _jobs(pg_url: str, runner_id: str) -> int:
    import psycopg
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    with suppress_instrumentation(), psycopg.connect(pg_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE args->>'runner_id' = %s", (runner_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_queued_answers_202_with_a_status_url_and_delivers(
    api: ThreadedServer, sandbox: ThreadedServer, pg_url: str
) -> None:
    r = _register(api)
    assert r.status_code == 202
    runner_id = r.json()["id"]
    assert r.json()["status_url"] == f"/api/registrations/{runner_id}"
    status = _final(api, runner_id)
    assert status["stored"] and status["email"]["state"] == "sent"
    assert status["email"]["attempts"] == 1 and status["email"]["delivered"] is True
    assert len(outbox(sandbox, runner_id)) == 1 and _jobs(pg_url, runner_id) == 1


@pytest.mark.parametrize(
    ("knob", "status"), [("db_failure_rate=1", 503), ("queue_enqueue_failure_rate=1", 503)]
)
def test_the_row_and_the_job_commit_together_or_not_at_all(
    api: ThreadedServer, pg_url: str, knob: str, status: int
) -> None:
    import asyncio

    before = asyncio.run(count_runners(pg_url))
    r = _register(api, f"{FAST_RETRY}, {knob}")
    assert r.status_code == status
    assert asyncio.run(count_runners(pg_url)) == before, "no runner without its job"
    runner_id = _runner_id_from_trace(r)
    assert _jobs(pg_url, runner_id) == 0, "no job without its runner"


def _request_span(r: httpx.Response) -> Any:
    """The request span of a response (from the in-process store), once it has ended."""
    trace_id = int(r.headers["traceresponse"].split("-")[1], 16)
    for _ in range(100):
        for s in tracing.STORE.spans(trace_id):
            if s.attributes and tracing.STRATEGY_ATTR in s.attributes:
                return s
        time.sleep(0.02)
    raise AssertionError("no request span")


def _runner_id_from_trace(r: httpx.Response) -> str:
    return str(_request_span(r).attributes[tracing.RUNNER_ATTR])


def test_a_flaky_email_api_is_retried_and_delivers_once(
    api: ThreadedServer, sandbox: ThreadedServer
) -> None:
    r = _register(api, f"{FAST_RETRY}, email_fail_first=2, email_fail_with=503")
    status = _final(api, r.json()["id"])
    assert status["email"]["state"] == "sent" and status["email"]["attempts"] == 3
    assert len(outbox(sandbox, r.json()["id"])) == 1
    assert len(status["trace_ids"]["attempts"]) == 3


def test_a_permanent_4xx_goes_to_the_dead_letters_without_retries(
    api: ThreadedServer, sandbox: ThreadedServer
) -> None:
    r = _register(api, f"{FAST_RETRY}, email_fail_first=10, email_fail_with=422")
    status = _final(api, r.json()["id"])
    assert status["email"]["state"] == "dead" and status["email"]["attempts"] == 1
    assert "ValidationError" in status["email"]["last_error"]
    assert outbox(sandbox, r.json()["id"]) == []
    dead = httpx.get(f"{api.url}/api/queue").json()["dead_letters"]
    assert r.json()["id"] in [d["runner_id"] for d in dead]


def test_attempts_run_out_into_the_dead_letters(api: ThreadedServer) -> None:
    share(queue_max_attempts=3)
    r = _register(api, f"{FAST_RETRY}, email_fail_first=10")
    status = _final(api, r.json()["id"])
    assert status["email"]["state"] == "dead" and status["email"]["attempts"] == 3
    assert "Simulated failure 3" in status["email"]["last_error"]


def _attempt_spans(status: dict[str, Any]) -> list[Any]:
    spans = []
    for trace_id in status["trace_ids"]["attempts"]:
        for _ in range(100):
            found = [
                s
                for s in tracing.STORE.spans(int(trace_id, 16))
                if s.name == "confirmation attempt"
            ]
            if found and tracing.STORE.running(int(trace_id, 16)) == 0:
                break
            time.sleep(0.02)
        spans += found
    return sorted(spans, key=lambda s: s.attributes["marathon.attempt"])


def test_a_429_waits_at_least_retry_after(api: ThreadedServer) -> None:
    r = _register(
        api, f"{FAST_RETRY}, email_fail_first=1, email_fail_with=429, email_retry_after_s=1.5"
    )
    status = _final(api, r.json()["id"])
    first, second = _attempt_spans(status)
    assert first.attributes["marathon.attempt.result"] == "retry"
    assert second.attributes["marathon.attempt.result"] == "sent"
    assert first.attributes["marathon.outcome"] == "failed"
    assert second.attributes["marathon.outcome"] == "finished"
    assert second.attributes["marathon.owner"] == "queue"
    waited = (second.start_time - first.end_time) / 1e9
    assert waited >= 1.5, f"retried after {waited:.2f} s, Retry-After said 1.5 s"


def test_attempts_link_to_the_request_span(api: ThreadedServer) -> None:
    r = _register(api, f"{FAST_RETRY}, email_fail_first=1")
    status = _final(api, r.json()["id"])
    request_trace = int(r.headers["traceresponse"].split("-")[1], 16)
    request = _request_span(r)
    for attempt in _attempt_spans(status):
        assert attempt.context.trace_id != request_trace, "a trace of its own"
        assert attempt.parent is None
        [link] = attempt.links
        assert link.context.trace_id == request_trace
        assert link.context.span_id == request.context.span_id
        assert attempt.attributes["marathon.attempt"] in (1, 2)
        assert {s.name for s in tracing.STORE.spans(attempt.context.trace_id)} >= {
            "confirmation attempt",
            "send confirmation",
        }


def test_the_child_model_puts_attempts_in_the_request_trace(api: ThreadedServer) -> None:
    r = _register(api, f"{FAST_RETRY}, queue_trace_model=child")
    status = _final(api, r.json()["id"])
    request_trace = int(r.headers["traceresponse"].split("-")[1], 16)
    [attempt] = _attempt_spans(status)
    request = _request_span(r)
    assert attempt.context.trace_id == request_trace
    assert attempt.parent is not None and attempt.parent.span_id == request.context.span_id
    assert attempt.start_time > request.end_time, "it ran after the response"


def test_the_event_stream_reports_the_real_states_in_order(api: ThreadedServer) -> None:
    share(queue_retry_base_s=0.5)
    r = _register(api, f"{FAST_RETRY}, email_fail_first=1")
    runner_id = r.json()["id"]
    states = []
    with httpx.stream("GET", f"{api.url}/api/registrations/{runner_id}/events", timeout=30) as s:
        assert s.headers["content-type"].startswith("text/event-stream")
        for line in s.iter_lines():
            if line.startswith("data:"):
                states.append(json.loads(line[5:])["email"]["state"])
    assert states[-1] == "sent" and "retrying" in states, states
    # In the order they happened (a poll may miss a short state, never reorder them).
    timeline, at = ["queued", "sending", "retrying", "sending", "sent"], 0
    for state in states:
        assert state in timeline[at:], f"{state} out of order in {states}"
        at = timeline.index(state, at)


def _worker(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "marathon", "worker", "--concurrency", "1"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_worker_killed_mid_job_is_replaced_and_the_email_goes_once(
    settings: Settings, pg_url: str, sandbox: ThreadedServer
) -> None:
    """SIGKILL between "sent" and "recorded": the retry replays, the sandbox sends nothing new.

    The job carries only the request's knob overrides, so the first worker's own slow
    database (its environment) makes the acknowledgement slow, and the kill lands there.
    """
    env = {
        "DATABASE_URL": pg_url,
        "RESEND_API_URL": sandbox.url,
        "MARATHON_EMAIL_SANDBOX": "1",
        "MARATHON_WORKER_STALLED_AFTER_S": "1",
        "MARATHON_EMAIL_LATENCY_MS": "20",
    }
    with ThreadedServer(create_app(settings.with_(worker_in_process=False))) as api:
        first = _worker({**env, "MARATHON_DB_LATENCY_MS": "5000"})  # a slow acknowledgement
        try:
            r = httpx.post(
                f"{api.url}/api/marathon/queued",
                json=fake.runner(),
                headers={"Marathon-Knobs": "email_latency_ms=20"},
            )
            runner_id = r.json()["id"]
            deadline = time.monotonic() + 30
            while not outbox(sandbox, runner_id) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert outbox(sandbox, runner_id), "the first worker sent the email"
            first.send_signal(signal.SIGKILL)  # after sending, before recording it
            first.wait(10)
            status = httpx.get(f"{api.url}/api/registrations/{runner_id}").json()
            assert status["email"]["state"] == "sending", "nobody recorded the send"
        finally:
            first.kill()
            if first.stderr:
                first.stderr.close()
        second = _worker(env)
        try:
            status = _final(api, runner_id, timeout=30)
        finally:
            second.send_signal(signal.SIGTERM)
            second.communicate(timeout=30)
    assert status["email"]["state"] == "sent" and status["email"]["attempts"] == 2
    assert len(outbox(sandbox, runner_id)) == 1, "exactly one email: the retry was a replay"


def test_a_backlog_the_statistics_missed_gets_them_refreshed(pg_url: str) -> None:
    """Procrastinate's fetch plans from the table's statistics: taken on a quiet queue they
    call a backlog a row or two, and each fetch sorts the whole backlog (queue.py)."""
    import asyncio

    from opentelemetry.instrumentation.utils import suppress_instrumentation

    from marathon.service import queue
    from marathon.service.db import Database

    async def scenario() -> tuple[bool, bool]:
        db = Database(pg_url)
        await db.open()
        jobs = queue.create_queue(pg_url)
        await jobs.open_async()
        try:
            await queue.ensure_schema(jobs, db)
            async with db.pool.connection() as conn:
                await conn.execute("ANALYZE procrastinate_jobs")  # the quiet queue's statistics
                # a backlog in a queue of its own, which no worker takes
                await conn.execute(
                    "INSERT INTO procrastinate_jobs (queue_name, task_name, args)"
                    " SELECT 'statistics-test', 'none', '{}' FROM generate_series(1, 2000)"
                )
            try:
                return await queue.refresh_statistics(db), await queue.refresh_statistics(db)
            finally:
                async with db.pool.connection() as conn:
                    await conn.execute(
                        "DELETE FROM procrastinate_jobs WHERE queue_name = 'statistics-test'"
                    )
        finally:
            await jobs.close_async()
            await db.close()

    with suppress_instrumentation():
        first, second = asyncio.run(scenario())
    assert first, "2,000 waiting jobs against statistics of a quiet queue: refreshed"
    assert not second, "once they know the backlog, nothing to do"
