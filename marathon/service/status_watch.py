"""Who is watching which registration, woken by PostgreSQL's LISTEN/NOTIFY.

A status stream (`GET /api/registrations/{id}/events`) used to poll the database every 100 ms:
200 streams were 2,000 queries a second, and everyone's registrations slowed down. Now one
connection LISTENs on `marathon_confirmations` (a trigger NOTIFYs every change of a
confirmation, migration 003) and wakes only the streams of that runner. Streams are capped.

It listens only while someone watches (and `LINGER_S` after): every confirmation change of every
queue worker reaches the listening connection, and with no stream open their NOTIFYs cost the
API about 0.5 ms of CPU per email for nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from opentelemetry.instrumentation.utils import suppress_instrumentation

__all__ = ["CHANNEL", "MAX_STREAMS", "StatusWatch", "TooManyStreams"]

log = logging.getLogger(__name__)

CHANNEL = "marathon_confirmations"
MAX_STREAMS = 100  # open status streams per server; more: 503 with Retry-After
LINGER_S = 30.0  # how long the LISTEN stays open after the last stream closed


class TooManyStreams(Exception):
    """Already `MAX_STREAMS` status streams open."""


class StatusWatch:
    """One LISTEN connection, many watchers."""

    def __init__(self, max_streams: int = MAX_STREAMS, linger_s: float = LINGER_S) -> None:
        self.max_streams, self.linger_s = max_streams, linger_s
        self._watchers: dict[str, set[asyncio.Event]] = {}
        self._wanted = asyncio.Event()  # someone watches: the LISTEN connection is needed
        self.listening = False

    @property
    def streams(self) -> int:
        return sum(len(w) for w in self._watchers.values())

    @asynccontextmanager
    async def watch(self, runner_id: str) -> AsyncIterator[asyncio.Event]:
        """An event set whenever the runner's confirmation changes; `TooManyStreams` if full."""
        if self.streams >= self.max_streams:
            raise TooManyStreams(f"{self.streams} status streams open")
        event = asyncio.Event()
        self._watchers.setdefault(runner_id, set()).add(event)
        self._wanted.set()
        try:
            yield event
        finally:
            watchers = self._watchers.get(runner_id, set())
            watchers.discard(event)
            if not watchers:
                self._watchers.pop(runner_id, None)

    async def listen(self, database_url: str) -> None:
        """Wake watchers until cancelled, connected while anyone watches (and `linger_s` after);
        reconnects after a lost connection."""
        with suppress_instrumentation():  # plumbing, not part of any registration's trace
            while True:
                await self._wanted.wait()
                try:
                    async with await psycopg.AsyncConnection.connect(
                        database_url, autocommit=True
                    ) as conn:
                        await conn.execute(f"LISTEN {CHANNEL}")
                        self.listening = True
                        await self._wake_while_watched(conn)
                except psycopg.OperationalError as e:
                    log.warning("status streams: lost the LISTEN connection (%s); retrying", e)
                    await asyncio.sleep(1)
                finally:
                    self.listening = False

    async def _wake_while_watched(self, conn: psycopg.AsyncConnection[object]) -> None:
        for events in list(self._watchers.values()):
            for event in events:  # what changed before we listened
                event.set()
        idle_since = None
        loop = asyncio.get_running_loop()
        while True:
            async for notify in conn.notifies(timeout=min(1.0, self.linger_s)):
                for event in self._watchers.get(notify.payload, ()):
                    event.set()
            if self._watchers:
                idle_since = None
            elif idle_since is None:
                idle_since = loop.time()
            elif loop.time() - idle_since >= self.linger_s:
                self._wanted.clear()  # closed on return: NOTIFYs stop coming here
                return
