"""Real components for every test: an embedded PostgreSQL, the sandbox over real HTTP, the app."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar

from marathon import knobs
from marathon.app import create_app

# The tests import these helpers from here; they are the exercises' harness's.
from marathon.lab.exercises.observed import Trace, outbox, settled, trace_id_of  # noqa: F401
from marathon.local.stack import ThreadedServer
from marathon.service.settings import Settings

# The real components (embedded PostgreSQL, the sandbox, default knobs, anyio's backend) are the
# exercises' harness's fixtures: one implementation for both.
pytest_plugins = ("marathon.lab.exercises.fixtures",)

# Fast, deterministic latencies unless a test asks for more (per request, with the header).
QUICK = "db_latency_ms=0, email_latency_ms=0"


@pytest.fixture
def settings(pg_url: str, sandbox: ThreadedServer, tmp_path: Path) -> Settings:
    return Settings(
        database_url=pg_url,
        resend_api_url=sandbox.url,
        email_sandbox=True,
        data_dir=tmp_path,
    )


def share(**values: Any) -> None:
    """Set shared knobs for this test (a header may not): `default_knobs` resets them after."""
    knobs.set_defaults(knobs.defaults().replace(values))


@pytest.fixture
def quiet_gc() -> Iterator[None]:
    """For tests that time requests: late in the suite this process holds a large heap, and a
    full garbage collection can pause every thread (client and servers) for 100 ms or more."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process on this test's event loop, lifespan included (drains on exit)."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c,
    ):
        yield c


async def final_status(client: httpx.AsyncClient, runner_id: str, timeout: float = 15) -> Any:
    """The registration's status once a queued confirmation is sent or dead (at once if not
    queued)."""
    deadline = time.monotonic() + timeout
    while True:
        status = (await client.get(f"/api/registrations/{runner_id}")).json()
        if status["email"].get("state") in (None, "sent", "dead") or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.05)


def run_python(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """`python ARGS` in a subprocess of this environment, e.g. `run_python("-m", "marathon")`;
    the sandbox takes any free port, so runs never collide with a demo on 8025."""
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "MARATHON_SANDBOX_PORT": "0", **(env or {})},
    )


async def count_runners(pg_url: str) -> int:
    import psycopg
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    with suppress_instrumentation():
        async with await psycopg.AsyncConnection.connect(pg_url) as conn:
            cur = await conn.execute("SELECT count(*) FROM runners")
            row = await cur.fetchone()
        assert row is not None
        return int(row[0])
