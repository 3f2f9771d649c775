"""A queue that outlasts an outage: retries for minutes by default, every dead letter listed
and retried, each confirmation delivered exactly once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from marathon import knobs
from marathon.app import create_app
from marathon.local.stack import ThreadedServer
from marathon.service import fake, queue
from marathon.service.settings import Settings
from tests.conftest import outbox, run_python, share

QUICK = "email_latency_ms=5, db_latency_ms=0"


@pytest.fixture
def api(settings: Settings) -> Iterator[ThreadedServer]:
    with ThreadedServer(create_app(settings)) as server:
        yield server


def _register(api: ThreadedServer, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        r = httpx.post(
            f"{api.url}/api/marathon/queued", json=fake.runner(), headers={"Marathon-Knobs": QUICK}
        )
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    return ids


def _states(api: ThreadedServer, ids: list[str]) -> dict[str, str]:
    return {i: httpx.get(f"{api.url}/api/registrations/{i}").json()["email"]["state"] for i in ids}


def _until(api: ThreadedServer, ids: list[str], state: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while set((states := _states(api, ids)).values()) != {state}:
        assert time.monotonic() < deadline, states
        time.sleep(0.1)


def test_the_default_schedule_retries_for_minutes() -> None:
    shortest, longest = queue.give_up_horizon(knobs.Knobs())
    assert shortest >= 180 and longest <= 600, (shortest, longest)


def test_an_outage_longer_than_the_old_schedule_loses_nothing(
    api: ThreadedServer, sandbox: ThreadedServer
) -> None:
    """The default schedule's shape (12 attempts, doubling to a cap) at a 20th of its scale:
    it gives up after 4 to 8.5 s; the old defaults at the same scale gave up after 1.5 s."""
    share(queue_retry_base_s=0.1, queue_retry_cap_s=1, email_outage="on")
    assert queue.give_up_horizon(knobs.defaults())[0] > 4
    ids = _register(api, 6)
    time.sleep(3)  # the outage: longer than the old schedule, shorter than the new
    share(email_outage="off")
    _until(api, ids, "sent", timeout=30)
    assert all(len(outbox(sandbox, i)) == 1 for i in ids), "each exactly once"


def _all_dead(api: ThreadedServer) -> list[dict[str, Any]]:
    letters, offset = [], 0
    while True:
        page = httpx.get(
            f"{api.url}/api/queue", params={"dead_offset": offset, "dead_limit": 2}
        ).json()
        assert len(page["dead_letters"]) <= 2
        letters += page["dead_letters"]
        offset += 2
        if offset >= page["dead_total"]:
            return letters


def test_every_dead_letter_is_listed_and_can_be_retried(
    api: ThreadedServer, sandbox: ThreadedServer
) -> None:
    share(queue_max_attempts=1, email_outage="on")
    ids = _register(api, 5)
    _until(api, ids, "dead", timeout=30)
    assert set(ids) <= {d["runner_id"] for d in _all_dead(api)}, "all of them, page by page"
    assert httpx.get(f"{api.url}/api/queue", params={"dead_limit": 501}).status_code == 400

    share(email_outage="off")
    r = httpx.post(f"{api.url}/api/queue/retry-dead")
    assert r.status_code == 200 and r.json()["retried"] >= 5
    _until(api, ids, "sent", timeout=30)
    assert all(len(outbox(sandbox, i)) == 1 for i in ids)
    assert not set(ids) & {d["runner_id"] for d in _all_dead(api)}


def test_the_command_line_retries_dead_letters_too(
    api: ThreadedServer, pg_url: str, sandbox: ThreadedServer
) -> None:
    share(queue_max_attempts=1, email_outage="on")
    ids = _register(api, 1)
    _until(api, ids, "dead", timeout=30)
    share(email_outage="off")
    done = run_python("-m", "marathon", "queue", "retry-dead", env={"DATABASE_URL": pg_url})
    assert done.returncode == 0, done.stderr
    assert "dead letter(s) back in the queue" in done.stdout
    _until(api, ids, "sent", timeout=30)  # this server's worker delivered it
    assert len(outbox(sandbox, ids[0])) == 1
