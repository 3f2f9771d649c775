"""PostgreSQL: the connection pool, migrations and the runner queries."""

from __future__ import annotations

import logging
import random
import uuid
from contextlib import AsyncExitStack, nullcontext
from importlib import resources
from typing import Any

from opentelemetry.instrumentation.utils import suppress_instrumentation
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from marathon import knobs
from marathon.registration import Runner
from marathon.service import delay
from marathon.tracing import INSERT_SPAN, RUNNER_ATTR, work_span

__all__ = ["Database", "DatabaseUnavailable", "DuplicateRunner", "Transaction"]

log = logging.getLogger(__name__)


class DuplicateRunner(Exception):
    """A runner with this email address is already registered."""


class DatabaseUnavailable(Exception):
    """The database could not be reached (here: simulated by `db_failure_rate`)."""


class Transaction:
    """One transaction that takes its pool connection on first use, not at `BEGIN`.

    Why: the simulated database latency runs before the first query. Were the connection taken
    first, a client asking for a long latency would hold a pool connection idle for it, and a
    few such requests would hold the whole pool hostage.
    """

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self._pool = pool
        self._stack = AsyncExitStack()
        self._conn: AsyncConnection[Any] | None = None

    async def connection(self) -> AsyncConnection[Any]:
        if self._conn is None:
            conn = await self._stack.enter_async_context(self._pool.connection())
            await self._stack.enter_async_context(conn.transaction())
            self._conn = conn
        return self._conn

    async def __aenter__(self) -> Transaction:
        return self

    async def __aexit__(self, *exc: Any) -> bool | None:
        return await self._stack.__aexit__(*exc)  # commit, or roll back on an exception


class Database:
    """The runners table behind an async connection pool."""

    def __init__(self, url: str, *, max_size: int = 10) -> None:
        self.pool = AsyncConnectionPool(
            url, min_size=1, max_size=max_size, open=False, kwargs={"autocommit": True}
        )

    async def open(self) -> None:
        await self.pool.open(wait=True, timeout=30)
        await self.migrate()

    async def close(self) -> None:
        await self.pool.close()

    async def migrate(self) -> None:
        """Apply each `migrations/NNN_*.sql` once, under a lock (API and workers may race)."""
        files = sorted(
            (
                f
                for f in resources.files("marathon.service.migrations").iterdir()
                if f.name.endswith(".sql")
            ),
            key=lambda f: f.name,
        )
        with suppress_instrumentation():  # start-up plumbing, not part of any lesson's trace
            async with self.pool.connection() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext('marathon-migrations'))")
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations"
                    " (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                cur = await conn.execute("SELECT version FROM schema_migrations")
                applied = {row[0] for row in await cur.fetchall()}
                for f in files:
                    if f.name not in applied:
                        await conn.execute(f.read_text())
                        await conn.execute(
                            "INSERT INTO schema_migrations (version) VALUES (%s)", (f.name,)
                        )
                        log.info("applied migration %s", f.name)

    def transaction(self) -> Transaction:
        """One transaction: commit if the block succeeds, else roll back. Its connection is
        taken from the pool at the first query (`await tx.connection()`)."""
        return Transaction(self.pool)

    async def insert_runner(self, runner: Runner, tx: Transaction | None = None) -> None:
        """Store the runner (in `tx` if given); `DuplicateRunner` if taken."""
        with work_span(INSERT_SPAN, attributes={RUNNER_ATTR: str(runner.id)}):
            k = knobs.current()
            # Simulated round trip to a managed database in another zone, before a connection
            # is taken: the latency never holds a pool connection.
            await delay.sleep(k.db_latency_ms, k.db_latency_spread)
            if random.random() < k.db_failure_rate:  # simulated outage (knob db_failure_rate)
                raise DatabaseUnavailable("simulated: the database did not answer")
            if random.random() < k.db_duplicate_rate:  # as if the email were taken
                raise DuplicateRunner(f"runner {runner.id}: email already registered (simulated)")
            conn = await tx.connection() if tx else None
            async with nullcontext(conn) if conn else self.pool.connection() as c:
                # ON CONFLICT instead of catching UniqueViolation: that error's text quotes the
                # email address, and the psycopg span would record it.
                cur = await c.execute(
                    "INSERT INTO runners (id, first_name, last_name, email, address, distance)"
                    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
                    (
                        runner.id,
                        runner.first_name,
                        runner.last_name,
                        runner.email,
                        runner.address,
                        runner.distance,
                    ),
                )
                if await cur.fetchone() is None:
                    raise DuplicateRunner(f"runner {runner.id}: email already registered")

    async def load_runner(self, runner_id: uuid.UUID) -> Runner:
        """The whole registration, personal data included: for sending the email only."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT id, first_name, last_name, email, address, distance FROM runners"
                " WHERE id = %s",
                (runner_id,),
            )
            row = await cur.fetchone()
        if row is None:
            raise LookupError(f"runner {runner_id} is not stored")
        return Runner(*row)

    async def get_runner(self, runner_id: uuid.UUID) -> dict[str, Any] | None:
        """What the API may show of a stored runner: no personal data."""
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT id, distance, created_at FROM runners WHERE id = %s", (runner_id,)
            )
            return await cur.fetchone()
