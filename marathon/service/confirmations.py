"""The state of a queued confirmation, as the client sees it (`GET /api/registrations/{id}`).

queued -> sending -> sent
             |-> retrying -> sending -> ...
             '-> dead (the dead letters: attempts exhausted, or a permanent 4xx)
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from marathon import knobs
from marathon.registration import Runner
from marathon.service import delay
from marathon.service.db import Database
from marathon.tracing import RUNNER_ATTR, work_span

__all__ = [
    "FINAL",
    "get",
    "mark_failed",
    "mark_sent",
    "record_enqueued",
    "start_attempt",
]

FINAL = ("sent", "dead")


async def record_enqueued(
    conn: AsyncConnection[Any], runner_id: uuid.UUID, job_id: int, request_trace_id: str
) -> None:
    await conn.execute(
        "INSERT INTO confirmations (runner_id, job_id, request_trace_id) VALUES (%s, %s, %s)",
        (runner_id, job_id, request_trace_id),
    )


async def start_attempt(db: Database, runner_id: uuid.UUID, attempt: int, trace_id: str) -> Runner:
    """Mark the confirmation sending (this attempt, its trace id) and return the whole
    registration for the email, in one round trip: a job attempt's first step."""
    async with db.pool.connection() as conn:
        cur = await conn.execute(
            "UPDATE confirmations c SET state = 'sending', attempts = %s, next_attempt_at = NULL,"
            " attempt_trace_ids = array_append(c.attempt_trace_ids, %s), updated_at = now()"
            " FROM runners r WHERE c.runner_id = %s AND r.id = c.runner_id"
            " RETURNING r.id, r.first_name, r.last_name, r.email, r.address, r.distance",
            (attempt, trace_id, runner_id),
        )
        row = await cur.fetchone()
    if row is None:  # no confirmation row (a job older than the table): as before, send anyway
        return await db.load_runner(runner_id)
    return Runner(*row)


async def mark_sent(db: Database, runner_id: uuid.UUID, email_id: str) -> None:
    """The acknowledgement. A crash before it commits means a retry: the idempotency key makes
    that retry harmless."""
    with work_span("record email sent", attributes={RUNNER_ATTR: str(runner_id)}):
        k = knobs.current()
        await delay.sleep(k.db_latency_ms, k.db_latency_spread)  # simulated database round trip
        async with db.pool.connection() as conn:
            await conn.execute(
                "UPDATE confirmations SET state = 'sent', email_id = %s, last_error = NULL,"
                " updated_at = now() WHERE runner_id = %s",
                (email_id, runner_id),
            )


async def mark_failed(
    db: Database, runner_id: uuid.UUID, error: str, retry_at: datetime.datetime | None
) -> None:
    async with db.pool.connection() as conn:
        await conn.execute(
            "UPDATE confirmations SET state = %s, next_attempt_at = %s, last_error = %s,"
            " updated_at = now() WHERE runner_id = %s",
            ("retrying" if retry_at else "dead", retry_at, error, runner_id),
        )


async def get(db: Database, runner_id: uuid.UUID) -> dict[str, Any] | None:
    async with db.pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            "SELECT state, attempts, next_attempt_at, last_error, email_id, job_id,"
            " request_trace_id, attempt_trace_ids, updated_at FROM confirmations"
            " WHERE runner_id = %s",
            (runner_id,),
        )
        row = await cur.fetchone()
    if row is None:
        return None
    for name in ("next_attempt_at", "updated_at"):
        row[name] = row[name].isoformat() if row[name] else None
    return row


async def summary(db: Database, dead_offset: int = 0, dead_limit: int = 50) -> dict[str, Any]:
    """Counts by state, and one page of the dead letters (newest first) with their last error."""
    async with db.pool.connection() as conn:
        cur = await conn.execute("SELECT state, count(*) FROM confirmations GROUP BY state")
        counts: dict[str, int] = {str(r[0]): int(r[1]) for r in await cur.fetchall()}
        rows = conn.cursor(row_factory=dict_row)
        await rows.execute(
            "SELECT runner_id, attempts, last_error, updated_at FROM confirmations"
            " WHERE state = 'dead' ORDER BY updated_at DESC, runner_id LIMIT %s OFFSET %s",
            (dead_limit, dead_offset),
        )
        dead = await rows.fetchall()
    return {
        "counts": {
            state: counts.get(state, 0)
            for state in ("queued", "sending", "retrying", "sent", "dead")
        },
        "dead_total": counts.get("dead", 0),
        "dead_offset": dead_offset,
        "dead_limit": dead_limit,
        "dead_letters": [
            {**d, "runner_id": str(d["runner_id"]), "updated_at": d["updated_at"].isoformat()}
            for d in dead
        ],
    }
