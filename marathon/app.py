"""The API: `create_app()` wires the strategies, the database, email, tracing and the views."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial

from litestar import Litestar
from litestar.datastructures import State
from litestar.logging.config import LoggingConfig
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from litestar.types import ASGIApp, Receive, Scope, Send
from opentelemetry.instrumentation.utils import suppress_instrumentation

from marathon import knobs, lifecycle, tracing
from marathon.background import Background
from marathon.routes import ROUTES
from marathon.routes.lesson import LessonResults
from marathon.routes.registrations import registration_endpoint
from marathon.scenarios import ScenarioRunner
from marathon.service import email, queue, same_origin
from marathon.service.settings import Settings
from marathon.service.status_watch import StatusWatch
from marathon.strategies import STRATEGIES, Strategy, Work

__all__ = ["create_app"]

log = logging.getLogger(__name__)

# Plumbing the viewers poll; tracing it would bury the registrations in noise.
UNTRACED = [
    "^/api/traces",
    "^/api/services",  # Jaeger UI's query API calls, polled by its search page
    "^/api/operations",
    "^/api/dependencies",
    "^/traces/",
    "^/api/health",
    "^/api/info",
    "^/api/background",
    "^/api/registrations",
    "^/api/scenarios",
    "^/api/knobs",
    "^/api/waterfalls",
    "^/api/fake-runner",
    "^/api/queue",
    "^/api/lesson",
    "^/v1/traces",  # other processes' spans arriving: tracing their arrival would loop
    "^/lesson/",
    "^/static/",
    "^/schema",
    "^/registrations",
    "^/outbox",
    "^/$",
]


_UNTRACED = re.compile("|".join(UNTRACED))


def quiet_untraced(app: ASGIApp) -> ASGIApp:
    """Untraced routes stay untraced all the way down: the plugin skips their server span, and
    this turns off instrumentation for the rest (their SQL and HTTP calls would otherwise
    start root traces of their own: one `SELECT` trace per status poll)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if _UNTRACED.match(scope.get("path", "")):
            with suppress_instrumentation():
                await app(scope, receive, send)
        else:
            await app(scope, receive, send)

    return middleware


def create_app(
    settings: Settings | None = None,
    *,
    database_url: str | None = None,
    strategies: Mapping[str, Strategy] = STRATEGIES,
    run_scenario: ScenarioRunner | None = None,
) -> Litestar:
    """The API. The database URL comes from `database_url`, else `settings.database_url`.

    `strategies` maps path segments to strategies (an exercise mounts its own this way).
    `run_scenario` plays a scenario for `POST /api/scenarios/{name}`; the lab, which sits above
    the app, provides it (`marathon.lab.scenario_runner.for_server`); without it that is a 501.
    """
    settings = settings or Settings.from_env()
    url = database_url or settings.database_url
    if not url:
        raise ValueError("create_app needs a database URL (DATABASE_URL or database_url=)")
    # Before any pool exists: the psycopg instrumentor only covers later connections.
    tracing.setup(settings.service_name, settings.trace_limit)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        lifecycle.install_task_factory(asyncio.get_running_loop())
        email.configure(settings)
        # Start-up and shutdown plumbing (pool, migrations, the worker's polling) makes no
        # trace: only registrations do. Not around the `yield`: requests would inherit it.
        async with AsyncExitStack() as resources:
            # One HTTP client for every email of this loop; closed last, after the drain.
            await resources.enter_async_context(email.connections())
            with suppress_instrumentation():
                db, jobs = await resources.enter_async_context(queue.connected(url))
            background = Background()
            app.state.db, app.state.background = db, background
            app.state.jobs = jobs  # the queue, for POST /api/queue/retry-dead
            app.state.status_watch = changes = StatusWatch()  # wakes the status streams (LISTEN)
            listener = asyncio.create_task(changes.listen(url))
            app.state.work = Work(
                store=db.insert_runner,
                confirm=email.send_confirmation,
                wait_until=background.wait_until,
                transaction=db.transaction,
                enqueue=partial(queue.enqueue, jobs),
            )
            # A long-lived task belongs to the lifespan, never to a request: it would keep
            # that request's trace context (and knobs) forever.
            worker = None
            if settings.worker_in_process:
                worker = asyncio.create_task(
                    queue.run_worker(
                        jobs, db, concurrency=settings.worker_concurrency, name="in-process"
                    )
                )
            try:
                yield
            finally:
                # Drain before closing the pool: background inserts still need it.
                report = await background.drain(knobs.defaults().wait_until_grace_s)
                if report.finished or report.cancelled:
                    log.info(
                        "drained: %d finished, %d cancelled", report.finished, report.cancelled
                    )
                listener.cancel()
                if worker:
                    worker.cancel()
                    await asyncio.wait([worker], timeout=10)
                await asyncio.wait([listener], timeout=10)

    plugins = []
    if tracing.enabled():  # off: no ASGI middleware either, not even a no-op one
        otel = OpenTelemetryConfig(
            exclude_spans=["receive", "send"],
            scope_span_details_extractor=tracing.route_span_details,
            exclude=UNTRACED,
        )
        plugins.append(OpenTelemetryPlugin(otel))
    return Litestar(
        route_handlers=[
            *(registration_endpoint(n, s) for n, s in strategies.items()),
            *ROUTES,
        ],
        lifespan=[lifespan],
        # Leave the root logger to the command line (Litestar would install its own format).
        logging_config=LoggingConfig(configure_root_logger=False),
        # First: a request from another site's page is refused before anything runs.
        middleware=[same_origin.guard(settings), quiet_untraced],
        plugins=plugins,
        state=State(
            {
                "settings": settings,
                "startup_knobs": knobs.defaults(),
                "run_scenario": run_scenario,
                "lesson_results": LessonResults(),  # the instructor's latest result per step
            }
        ),
    )
