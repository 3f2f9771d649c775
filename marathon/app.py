"""The API: `create_app()` wires the strategies, the database, email, tracing and the views."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import partial

from litestar import Litestar
from litestar.datastructures import State
from litestar.logging.config import LoggingConfig
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

from marathon import email, knobs, lifecycle, queue, tracing
from marathon.background import Background
from marathon.routes import ROUTES
from marathon.routes.registrations import registration_endpoint
from marathon.settings import Settings
from marathon.strategies import STRATEGIES, Strategy, Work

__all__ = ["create_app"]

log = logging.getLogger(__name__)

# Plumbing the viewers poll; tracing it would bury the registrations in noise.
UNTRACED = [
    "^/api/traces",
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
    "^/static/",
    "^/registrations",
    "^/outbox",
    "^/$",
]


def create_app(
    settings: Settings | None = None,
    *,
    database_url: str | None = None,
    strategies: Mapping[str, Strategy] = STRATEGIES,
) -> Litestar:
    """The API. The database URL comes from `database_url`, else `settings.database_url`.

    `strategies` maps path segments to strategies (an exercise mounts its own this way).
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
        # One HTTP client for every email of this loop; closed last, after the drain.
        async with email.connections(), queue.connected(url) as (db, jobs):
            background = Background()
            app.state.db, app.state.background = db, background
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
                if worker:
                    worker.cancel()
                    await asyncio.wait([worker], timeout=10)

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
        plugins=plugins,
        state=State({"settings": settings, "startup_knobs": knobs.defaults()}),
    )
