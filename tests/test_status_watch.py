"""The status streams' LISTEN connection exists only while someone watches (and a linger)."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from marathon.service.status_watch import CHANNEL, StatusWatch

pytestmark = pytest.mark.anyio


async def _listeners(url: str) -> int:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query = %s", (f"LISTEN {CHANNEL}",)
        )
        row = await cur.fetchone()
        return int(row[0]) if row else 0


async def _until(condition: object, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_listens_while_watched_wakes_the_runner_and_lets_go_after_the_linger(
    pg_url: str,
) -> None:
    changes = StatusWatch(linger_s=0.3)
    listener = asyncio.create_task(changes.listen(pg_url))
    try:
        await asyncio.sleep(0.5)
        assert not changes.listening and await _listeners(pg_url) == 0, "nobody watches yet"
        async with changes.watch("runner-1") as changed:
            await _until(lambda: changes.listening)
            changed.clear()  # woken once on connecting: "what changed before we listened"
            async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
                await conn.execute("SELECT pg_notify(%s, 'runner-2')", (CHANNEL,))
                await conn.execute("SELECT pg_notify(%s, 'runner-1')", (CHANNEL,))
            await asyncio.wait_for(changed.wait(), 5)
            assert await _listeners(pg_url) == 1
        await _until(lambda: not changes.listening)
        assert await _listeners(pg_url) == 0, "the connection is closed after the linger"
        async with changes.watch("runner-3"):  # and comes back for the next stream
            await _until(lambda: changes.listening)
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
