"""The durable queue (procrastinate, in our own PostgreSQL): part two of the lesson.

The confirmation becomes a job, inserted in the same transaction as the runner, so both exist
or neither does. Workers (any number, any host) deliver it with retries: exponential backoff
with jitter on 5xx, timeouts and 429 (honouring Retry-After), none on other 4xx, and a dead
letter after the last attempt. The idempotency key (the runner id) makes a retry after a crash
between "sent" and "recorded" harmless.

The request's trace context travels with the job; each attempt is a span linked to the request
span (knob `queue_trace_model=child` makes it a child instead, to compare the two in Jaeger).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import random
import time
import uuid
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.utils import parsedate_to_datetime
from typing import Any

import procrastinate
import psycopg
import psycopg_pool
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from procrastinate.job_context import JobContext
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy, RetryDecision
from resend.exceptions import ResendError

from marathon import knobs
from marathon.registration import Runner
from marathon.service import confirmations, email
from marathon.service.db import Database, Transaction
from marathon.tracing import RUNNER_ATTR, instrumentation_enabled, scrub, work_span, working_for

__all__ = [
    "QUEUE",
    "QueueUnavailable",
    "connected",
    "create_queue",
    "enqueue",
    "ensure_schema",
    "give_up_horizon",
    "retry_dead",
    "retry_delay",
    "run_worker",
]

log = logging.getLogger(__name__)

QUEUE = "confirmations"
TASK = "send_confirmation"
ATTEMPT_SPAN = "confirmation attempt"
ENQUEUE_SPAN = "enqueue confirmation"
# sent, retry or dead (its marathon.outcome says finished or failed, as for any work span)
ATTEMPT_RESULT = "marathon.attempt.result"
POLL_S = 0.2  # how often a worker looks for jobs whose retry time has come
# A pool connection back from use less than this long ago is not checked again before the next
# (a check is one more round trip; the pool still drops a connection that broke in use).
CHECK_IDLE_S = 1.0
STATISTICS_EVERY_S = 2.0  # how often a worker compares the backlog with the planner's idea of it


class QueueUnavailable(Exception):
    """The job could not be enqueued (here: simulated by `queue_enqueue_failure_rate`)."""


def retry_delay(exc: BaseException, attempt: int, k: knobs.Knobs) -> float | None:
    """Seconds until the next attempt, or None: a permanent failure or the last attempt."""
    if attempt >= k.queue_max_attempts:
        return None
    retry_after = 0.0
    if isinstance(exc, ResendError):
        code = int(exc.code) if str(exc.code).isdigit() else 500
        if code == 429:
            retry_after = _retry_after(
                exc.headers.get("retry-after") or exc.headers.get("Retry-After")
            )
        elif code < 500:
            return None  # the request itself is wrong: retrying cannot help
    # Exponential backoff with "equal jitter": half fixed, half random, so that retries after a
    # shared outage do not arrive all at once.
    backoff = min(k.queue_retry_cap_s, k.queue_retry_base_s * 2 ** (attempt - 1))
    return float(max(retry_after, backoff / 2 + random.uniform(0, backoff / 2)))


def give_up_horizon(k: knobs.Knobs) -> tuple[float, float]:
    """The shortest and longest wait, in seconds, from the first attempt to the dead letters
    when every attempt fails with a 5xx (jitter puts each delay between half and all of it)."""
    delays = [
        min(k.queue_retry_cap_s, k.queue_retry_base_s * 2 ** (attempt - 1))
        for attempt in range(1, int(k.queue_max_attempts))
    ]
    return sum(delays) / 2, float(sum(delays))


def _retry_after(value: str | None) -> float:
    if not value:
        return 0.0
    try:
        return max(0.0, float(value))
    except ValueError:
        when = parsedate_to_datetime(value)
        return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())


class DecidedRetry(BaseRetryStrategy):
    """Procrastinate asks after each failure; the job has already decided and said so."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        retry_at: datetime.datetime | None = getattr(exception, "marathon_retry_at", None)
        return RetryDecision(retry_at=retry_at) if retry_at else None


async def send_confirmation_job(
    context: JobContext, runner_id: str, knob_overrides: str, traceparent: str
) -> None:
    """One attempt at one confirmation."""
    db: Database = context.additional_context["db"]
    rid = uuid.UUID(runner_id)
    attempt = (context.job.attempts or 0) + 1
    # Only the request's own knobs: the retry policy and limits are the worker's (shared), even
    # for a job enqueued by an older version that carried them.
    carried = knobs.parse_overrides(knob_overrides)
    k = knobs.defaults().replace({n: v for n, v in carried.items() if not knobs.is_shared(n)})
    request = TraceContextTextMapPropagator().extract({"traceparent": traceparent})
    request_span = trace.get_current_span(request).get_span_context()
    if k.queue_trace_model == "child":
        parent, links = request, []
    else:  # a new trace per attempt, linked: the model OpenTelemetry recommends for queues
        parent, links = Context(), [Link(request_span, {"marathon.link": "request"})]
    attributes = {
        RUNNER_ATTR: runner_id,
        "marathon.attempt": attempt,
        "messaging.system": "procrastinate",
        "messaging.destination.name": QUEUE,
        "messaging.message.id": str(context.job.id),
    }
    with (
        instrumentation_enabled(),
        working_for("queue"),
        knobs.using(k),
        work_span(
            ATTEMPT_SPAN, kind=SpanKind.CONSUMER, context=parent, links=links, attributes=attributes
        ) as span,
    ):
        runner = await confirmations.start_attempt(
            db, rid, attempt, f"{span.get_span_context().trace_id:032x}"
        )
        try:
            email_id = await email.send_confirmation(runner)
        except Exception as exc:
            delay_s = retry_delay(exc, attempt, k)
            retry_at = None
            if delay_s is not None:
                retry_at = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=delay_s)
            exc.marathon_retry_at = retry_at  # type: ignore[attr-defined]
            span.set_attribute(ATTEMPT_RESULT, "retry" if retry_at else "dead")
            message = scrub(f"{type(exc).__name__}: {exc}")[:300]
            await confirmations.mark_failed(db, rid, message, retry_at)
            if retry_at is None:
                log.warning(
                    "confirmation %s is dead after %d attempt(s): %s", rid, attempt, message
                )
            raise
        span.set_attribute(ATTEMPT_RESULT, "sent")
        await confirmations.mark_sent(db, rid, email_id)


_returned: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


async def _autocommit(conn: Any) -> None:
    await conn.set_autocommit(True)


async def _note_returned(conn: Any) -> None:
    _returned[conn] = time.monotonic()


async def _check_if_idle(conn: Any) -> None:
    if time.monotonic() - _returned.get(conn, 0.0) > CHECK_IDLE_S:
        await psycopg_pool.AsyncConnectionPool.check_connection(conn)


def _pool(**kwargs: Any) -> psycopg_pool.AsyncConnectionPool[Any]:
    """Procrastinate's pool, at fewer round trips per job. Autocommit: each of its queries is
    one statement (a function call), atomic on its own, so the BEGIN and COMMIT it would
    otherwise cost (two of the four round trips of a fetch) buy nothing. Its liveness check
    runs only on a connection idle for `CHECK_IDLE_S`, not before every query."""
    kwargs.update(configure=_autocommit, check=_check_if_idle, reset=_note_returned)
    return psycopg_pool.AsyncConnectionPool(**kwargs)


def create_queue(database_url: str) -> procrastinate.App:
    """The procrastinate app, with a small pool of its own (its LISTEN connection needs
    settings ours does not have); jobs are still deferred on our connection, in our
    transaction."""
    connector = procrastinate.PsycopgConnector(
        conninfo=database_url, min_size=1, max_size=4, pool_factory=_pool
    )
    app = procrastinate.App(connector=connector)
    app.task(name=TASK, queue=QUEUE, pass_context=True, retry=DecidedRetry())(send_confirmation_job)
    return app


async def enqueue(queue: procrastinate.App, runner: Runner, tx: Transaction) -> None:
    """Defer the confirmation in `tx`, with the request's context and per-request knobs."""
    request = trace.get_current_span()  # the request span: attempts will link to it
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier, trace.set_span_in_context(request))
    with work_span(ENQUEUE_SPAN, kind=SpanKind.PRODUCER, attributes={RUNNER_ATTR: str(runner.id)}):
        if random.random() < knobs.current().queue_enqueue_failure_rate:
            raise QueueUnavailable("simulated: the job could not be enqueued")
        conn = await tx.connection()
        job_id = (
            await queue.tasks[TASK]
            .configure(connection=conn)
            .defer_async(
                runner_id=str(runner.id),
                knob_overrides=knobs.overrides_of(knobs.current()),
                traceparent=carrier.get("traceparent", ""),
            )
        )
        trace_id = f"{request.get_span_context().trace_id:032x}"
        await confirmations.record_enqueued(conn, runner.id, job_id, trace_id)


async def retry_dead(queue: procrastinate.App, db: Database) -> int:
    """Every dead letter back in the queue, as a new job with its old job's arguments (the same
    runner id, so the same idempotency key: an email the API had accepted is not sent twice).
    Returns how many."""
    retried = 0
    async with db.transaction() as tx:
        conn = await tx.connection()
        cur = await conn.execute(
            "SELECT c.runner_id, j.args FROM confirmations c"
            " JOIN procrastinate_jobs j ON j.id = c.job_id WHERE c.state = 'dead'"
            " ORDER BY c.updated_at FOR UPDATE OF c"
        )
        for runner_id, args in await cur.fetchall():
            job_id = await queue.tasks[TASK].configure(connection=conn).defer_async(**args)
            await conn.execute(
                "UPDATE confirmations SET state = 'queued', job_id = %s, attempts = 0,"
                " next_attempt_at = NULL, updated_at = now() WHERE runner_id = %s",
                (job_id, runner_id),
            )
            retried += 1
    if retried:
        log.info("%d dead letter(s) back in the queue", retried)
    return retried


async def ensure_schema(queue: procrastinate.App, db: Database) -> None:
    """Procrastinate's tables, once (API and workers may start together: one lock)."""
    with suppress_instrumentation():
        async with db.pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('marathon-queue-schema'))")
            cur = await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
            row = await cur.fetchone()
            if not (row and row[0]):
                await conn.execute(queue.schema_manager.get_schema())
                log.info("applied procrastinate's schema")


@asynccontextmanager
async def connected(database_url: str) -> AsyncIterator[tuple[Database, procrastinate.App]]:
    """The database (migrated) and the queue (schema applied), for the API or a worker."""
    db = Database(database_url)
    await db.open()
    jobs = create_queue(database_url)
    await jobs.open_async()
    try:
        await ensure_schema(jobs, db)
        yield db, jobs
    finally:
        await jobs.close_async()
        await db.close()


async def _retry_stalled(queue: procrastinate.App, after_s: float) -> None:
    """Jobs of a worker that stopped sending heartbeats (killed, frozen) go back in the queue."""
    while True:
        await asyncio.sleep(max(0.25, after_s / 2))
        stalled = await queue.job_manager.get_stalled_jobs(
            queue=QUEUE, seconds_since_heartbeat=after_s
        )
        for job in stalled:
            try:
                await queue.job_manager.retry_job(job)
            except procrastinate.exceptions.ConnectorException:
                # Every worker sweeps: another one (in-process or not) was first to this job.
                continue
            log.warning("job %s of a stalled worker goes back in the queue", job.id)


async def refresh_statistics(db: Database) -> bool:
    """ANALYZE the jobs table when the planner's idea of the backlog is far below the real one;
    True if it did.

    Procrastinate's fetch picks its plan from the table's statistics. Taken while the queue
    was empty, they say a backlog is a row or two, and the plan reads and sorts every waiting
    job to take one: each fetch costs O(backlog), about 2 ms of PostgreSQL CPU per job at
    1,000 waiting, just when a burst needs the workers fast. With statistics that know the
    backlog, the fetch walks its index to the first job (0.3 ms). Autovacuum gets there too,
    but only after its next round (up to a minute) and only once a tenth of the table changed.
    """
    async with db.pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'")
        row = await cur.fetchone()
        waiting = int(row[0]) if row else 0
        if waiting < 100:  # a few rows sort in no time, whatever the plan
            return False
        cur = await conn.execute(
            "EXPLAIN (FORMAT JSON) SELECT 1 FROM procrastinate_jobs WHERE status = 'todo'"
        )
        row = await cur.fetchone()
        expected = float(row[0][0]["Plan"]["Plan Rows"]) if row else 0.0
        if waiting <= 2 * expected:
            return False
        async with conn.transaction():
            # one worker at a time: the others find fresh statistics on their next look
            cur = await conn.execute(
                "SELECT pg_try_advisory_xact_lock(hashtext('marathon-queue-analyze'))"
            )
            row = await cur.fetchone()
            if not (row and row[0]):
                return False
            await conn.execute("ANALYZE procrastinate_jobs")
    log.info(
        "queue statistics refreshed: %d jobs waiting, the planner expected %d", waiting, expected
    )
    return True


async def _keep_statistics(db: Database) -> None:
    """`refresh_statistics` now and every `STATISTICS_EVERY_S`; stops if not allowed to."""
    while True:
        try:
            await refresh_statistics(db)
        except psycopg.errors.InsufficientPrivilege:
            log.warning(
                "cannot ANALYZE procrastinate_jobs: the queue's fetches may slow down"
                " with a backlog until autovacuum analyzes it"
            )
            return
        except psycopg.Error as e:
            log.warning("queue statistics: %s", e)
        await asyncio.sleep(STATISTICS_EVERY_S)


async def run_worker(
    queue: procrastinate.App,
    db: Database,
    *,
    concurrency: int = 10,
    install_signal_handlers: bool = False,
    name: str = "worker",
) -> None:
    """Work the confirmation queue until cancelled (or, with signal handlers, SIGTERM)."""
    after_s = knobs.defaults().worker_stalled_after_s
    # Procrastinate's own polling and LISTEN would bury the traces: quiet here, and each job
    # turns instrumentation back on for itself (tracing.instrumentation_enabled).
    with suppress_instrumentation():
        sweeper = asyncio.create_task(_retry_stalled(queue, after_s))
        statistics = asyncio.create_task(_keep_statistics(db))
        try:
            await queue.run_worker_async(
                queues=[QUEUE],
                name=name,
                concurrency=concurrency,
                additional_context={"db": db},
                install_signal_handlers=install_signal_handlers,
                fetch_job_polling_interval=POLL_S,
                update_heartbeat_interval=max(0.2, after_s / 4),
                stalled_worker_timeout=after_s,
                delete_jobs="never",
            )
        finally:
            sweeper.cancel()
            statistics.cancel()
