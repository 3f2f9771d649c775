"""The email SDK's HTTP client: one long-lived connection pool per event loop, still traced."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from marathon import knobs
from marathon.app import create_app
from marathon.local.sandbox import create_sandbox
from marathon.local.stack import ThreadedServer
from marathon.service import email, fake
from marathon.service.settings import Settings
from tests.conftest import QUICK, final_status, settled, trace_id_of

pytestmark = pytest.mark.anyio


class ConnectionLog:
    """ASGI middleware: the client address (host, port) of every request, i.e. its connection."""

    def __init__(self, app: Any) -> None:
        self.app, self.peers = app, list[tuple[str, int]]()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/emails":
            self.peers.append(tuple(scope["client"]))  # type: ignore[arg-type]
        await self.app(scope, receive, send)


@pytest.fixture
def logged_sandbox() -> Iterator[tuple[ThreadedServer, ConnectionLog]]:
    logged = ConnectionLog(create_sandbox(defaults=knobs.Knobs()))
    with ThreadedServer(logged) as server:
        yield server, logged


async def test_every_email_goes_over_one_kept_alive_connection_and_is_traced(
    pg_url: str, logged_sandbox: tuple[ThreadedServer, ConnectionLog], tmp_path: Path
) -> None:
    sandbox, logged = logged_sandbox
    settings = Settings(
        database_url=pg_url, resend_api_url=sandbox.url, email_sandbox=True, data_dir=tmp_path
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c,
    ):
        shared = email.PooledClient().client()
        assert shared is not None, "the lifespan opens this loop's client"
        for strategy in ("sequential", "wait-until", "queued", "sequential", "wait-until"):
            r = await c.post(
                f"/api/marathon/{strategy}",
                json=fake.runner(),
                headers={knobs.HEADER: QUICK},
            )
            assert r.status_code < 300, r.text
            await final_status(c, r.json()["id"])
            if strategy != "queued":  # the attempt has its own trace (linked)
                trace = await settled(trace_id_of(r))
                [http_call] = trace.children(trace.one("send confirmation"))
                assert http_call.name == "POST", "the httpx instrumentation still sees the call"
            assert email.PooledClient().client() is shared, "the same client for every email"
    assert len(logged.peers) == 5
    assert len(set(logged.peers)) == 1, f"one connection for every email, saw {logged.peers}"
    assert shared.is_closed, "shutdown closes the client"
    assert email.PooledClient().client() is None


async def test_each_event_loop_gets_its_own_client(sandbox: ThreadedServer) -> None:
    email.configure(Settings(resend_api_url=sandbox.url, email_sandbox=True))

    async def open_one() -> httpx.AsyncClient:
        async with email.connections() as client:
            await asyncio.sleep(0)
            return client

    here = await open_one()
    elsewhere = await asyncio.to_thread(asyncio.run, open_one())
    assert here is not elsewhere and here.is_closed and elsewhere.is_closed
