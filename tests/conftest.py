"""Real components for every test: an embedded PostgreSQL, the sandbox over real HTTP, the app."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from opentelemetry.sdk.trace import ReadableSpan

from marathon import knobs, tracing
from marathon.app import create_app
from marathon.local import postgres
from marathon.local.sandbox import create_sandbox
from marathon.local.stack import ThreadedServer
from marathon.service.settings import Settings


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Async tests run on anyio's plugin (`pytestmark = pytest.mark.anyio`): unlike
    pytest-asyncio it keeps a fixture's setup and teardown in one task, which the app's
    lifespan (an anyio task group) needs."""
    return "asyncio"


# Fast, deterministic latencies unless a test asks for more (per request, with the header).
QUICK = "db_latency_ms=0, email_latency_ms=0"


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with postgres.embedded_server(tmp_path_factory.mktemp("pg") / "data", ephemeral=True) as url:
        yield url


@pytest.fixture(scope="session")
def sandbox() -> Iterator[ThreadedServer]:
    with ThreadedServer(create_sandbox(defaults=knobs.Knobs())) as server:
        yield server


@pytest.fixture
def settings(pg_url: str, sandbox: ThreadedServer, tmp_path: Path) -> Settings:
    return Settings(
        database_url=pg_url,
        resend_api_url=sandbox.url,
        email_sandbox=True,
        data_dir=tmp_path,
    )


@pytest.fixture(autouse=True)
def default_knobs() -> Iterator[None]:
    """Every test starts from the documented defaults, whatever a test changed."""
    knobs.set_defaults(knobs.Knobs())
    yield
    knobs.set_defaults(knobs.Knobs())


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
    async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


def trace_id_of(response: httpx.Response) -> int:
    """The trace id from the W3C `traceresponse` header."""
    return int(response.headers["traceresponse"].split("-")[1], 16)


@dataclass
class Trace:
    spans: list[ReadableSpan]

    def one(self, name: str) -> ReadableSpan:
        found = [s for s in self.spans if s.name == name]
        assert len(found) == 1, f"expected one {name!r} span, got {[s.name for s in self.spans]}"
        return found[0]

    @property
    def server(self) -> ReadableSpan:
        found = [s for s in self.spans if tracing.STRATEGY_ATTR in (s.attributes or {})]
        assert len(found) == 1, f"expected one request span, got {[s.name for s in self.spans]}"
        return found[0]

    def children(self, parent: ReadableSpan) -> list[ReadableSpan]:
        assert parent.context is not None
        return [s for s in self.spans if s.parent and s.parent.span_id == parent.context.span_id]


async def settled(trace_id: int, timeout: float = 15) -> Trace:
    """The trace once none of its spans is running (checked twice, 50 ms apart)."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline:
        spans = tracing.STORE.spans(trace_id)
        quiet = quiet + 1 if spans and tracing.STORE.running(trace_id) == 0 else 0
        if quiet >= 2:
            return Trace(spans)
        await asyncio.sleep(0.05)
    raise AssertionError(f"trace {trace_id:032x} still has running spans after {timeout} s")


async def final_status(client: httpx.AsyncClient, runner_id: str, timeout: float = 15) -> Any:
    """The registration's status once a queued confirmation is sent or dead (at once if not
    queued)."""
    deadline = time.monotonic() + timeout
    while True:
        status = (await client.get(f"/api/registrations/{runner_id}")).json()
        if status["email"].get("state") in (None, "sent", "dead") or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.05)


def outbox(sandbox: ThreadedServer, runner_id: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{sandbox.url}/outbox", params={"idempotency_key": runner_id})
    r.raise_for_status()
    emails: list[dict[str, Any]] = r.json()["data"]
    return emails


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
