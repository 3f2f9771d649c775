"""The API: `create_app()` wires the strategies, the database, email, tracing and the views."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from litestar import Litestar, Request, Response, delete, get, post, put
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State
from litestar.exceptions import HTTPException, PermissionDeniedException, ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.logging.config import LoggingConfig
from litestar.params import JSONBody
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from opentelemetry import trace
from psycopg import Error as DatabaseError
from resend.exceptions import ResendError

from marathon import email, knobs, lifecycle, queue, registration, tracing
from marathon.background import Background, BackgroundFull
from marathon.db import DatabaseUnavailable, DuplicateRunner
from marathon.pages import PAGES
from marathon.routes import ROUTES
from marathon.settings import Settings
from marathon.strategies import LESSONS, STRATEGIES, Strategy, Work

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


_logged_overrides: set[str] = set()


def request_knobs(request: Request[Any, Any, State]) -> knobs.Knobs:
    """The process knobs with this request's `Marathon-Knobs` overrides; 400 if they are bad."""
    header = request.headers.get(knobs.HEADER)
    if not header:
        return knobs.defaults()
    if not request.app.state.settings.knobs_mutable:
        raise PermissionDeniedException(
            detail=f"{knobs.HEADER} is disabled on this deployment (MARATHON_KNOBS=off)"
        )
    try:
        overrides = knobs.parse_overrides(header)
    except knobs.KnobError as e:
        raise ValidationException(
            detail=f"Invalid {knobs.HEADER} header",
            extra=[{"key": knobs.HEADER, "message": str(e), "source": "header"}],
        ) from None
    for name, value in overrides.items():
        if f"{name}={value}" not in _logged_overrides:  # each override is logged once
            _logged_overrides.add(f"{name}={value}")
            log.info("knob override per request: %s=%s", name, value)
    return knobs.defaults().replace(overrides)


async def read_runner(request: Request[Any, Any, State]) -> registration.Runner:
    try:
        body = await request.json()
    except HTTPException:
        raise  # e.g. 413 from request_max_body_size
    except Exception:
        raise ValidationException(
            detail="Invalid registration",
            extra=[{"key": "body", "message": "must be valid JSON", "source": "body"}],
        ) from None
    runner = registration.parse(body)
    if isinstance(runner, list):
        raise ValidationException(
            detail="Invalid registration", extra=[e.as_dict() for e in runner]
        )
    return runner


def registration_endpoint(name: str, strategy: Strategy) -> HTTPRouteHandler:
    """`POST /api/marathon/<name>`: the same validation and errors around each strategy."""

    @post(
        f"/api/marathon/{name}",
        name=name,
        summary=LESSONS.get(name, name),
        request_max_body_size=registration.MAX_BODY_BYTES,
    )
    async def register(request: Request[Any, Any, State], state: State) -> Response[Any]:
        span = trace.get_current_span()
        span.set_attribute(tracing.STRATEGY_ATTR, name)
        k = request_knobs(request)
        runner = await read_runner(request)
        span.set_attribute(tracing.RUNNER_ATTR, str(runner.id))
        with knobs.using(k), lifecycle.request_scope() as started:
            try:
                status = await strategy(state.work, runner)
            except DuplicateRunner:
                raise HTTPException(
                    status_code=409, detail="A runner with this email address is registered"
                ) from None
            except ResendError as e:
                log.warning("registration %s: the confirmation failed (%s)", runner.id, e.code)
                raise HTTPException(
                    status_code=502,
                    detail="The runner is registered, but the confirmation email failed",
                    extra={"id": str(runner.id), "email_error": e.error_type},
                ) from None
            except (DatabaseError, DatabaseUnavailable):
                raise HTTPException(status_code=503, detail="The database is unavailable") from None
            except queue.QueueUnavailable:
                raise HTTPException(
                    status_code=503, detail="The queue is unavailable; nothing was stored"
                ) from None
            except BackgroundFull:
                raise HTTPException(
                    status_code=503,
                    detail="Too much background work pending; try again shortly",
                    headers={"Retry-After": "1"},
                    extra={"id": str(runner.id)},
                ) from None
        # Runs once the response's last byte is sent (the request span has ended).
        after = None
        if k.lifecycle == "serverless":
            after = BackgroundTask(
                lifecycle.freeze, started, state.background, k.wait_until_grace_s
            )
        body = {"id": str(runner.id), "status_url": f"/api/registrations/{runner.id}"}
        return Response(body, status_code=status, background=after)

    return register


def _knobs_view(state: State) -> dict[str, Any]:
    return {
        "knobs": knobs.defaults().as_dict(),
        "startup": state.startup_knobs.as_dict(),
        "mutable": state.settings.knobs_mutable,
        "describe": knobs.describe(),
    }


@get("/api/knobs")
async def get_knobs(state: State) -> dict[str, Any]:
    """The knobs in force (process-wide), those the process started with, and what each does."""
    return _knobs_view(state)


@put("/api/knobs")
async def put_knobs(state: State, data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
    """Change knobs for every later request; unknown names or bad values are a 400."""
    if not state.settings.knobs_mutable:
        raise PermissionDeniedException(detail="Knob changes are disabled (MARATHON_KNOBS=off)")
    try:
        changed = knobs.defaults().replace(data)
    except (knobs.KnobError, TypeError) as e:
        raise ValidationException(
            detail="Invalid knobs", extra=[{"key": "body", "message": str(e)}]
        ) from None
    before = knobs.defaults().as_dict()
    for name, value in changed.as_dict().items():
        if before[name] != value:
            log.info("knob override at run time: %s %s -> %s", name, before[name], value)
    knobs.set_defaults(changed)
    return _knobs_view(state)


@delete("/api/knobs", status_code=200)
async def reset_knobs(state: State) -> dict[str, Any]:
    """Back to the knobs the process started with."""
    if not state.settings.knobs_mutable:
        raise PermissionDeniedException(detail="Knob changes are disabled (MARATHON_KNOBS=off)")
    knobs.set_defaults(state.startup_knobs)
    log.info("knobs reset to their start-up values")
    return _knobs_view(state)


@get("/api/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/api/background")
async def background_status(state: State) -> dict[str, int]:
    """How much `wait_until` work is in flight (fire-and-forget tasks are not counted: nobody
    keeps them)."""
    bg: Background = state.background
    return {
        "pending": bg.pending,
        "started": bg.started,
        "failed": bg.failed,
        "dropped": bg.dropped,
    }


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
        async with queue.connected(url) as (db, jobs):
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
                worker = asyncio.create_task(queue.run_worker(jobs, db, name="in-process"))
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

    otel = OpenTelemetryConfig(
        exclude_spans=["receive", "send"],
        scope_span_details_extractor=tracing.route_span_details,
        exclude=UNTRACED,
    )
    return Litestar(
        route_handlers=[
            *(registration_endpoint(n, s) for n, s in strategies.items()),
            health,
            background_status,
            get_knobs,
            put_knobs,
            reset_knobs,
            *ROUTES,
            *PAGES,
        ],
        lifespan=[lifespan],
        # Leave the root logger to the command line (Litestar would install its own format).
        logging_config=LoggingConfig(configure_root_logger=False),
        plugins=[OpenTelemetryPlugin(otel)],
        state=State({"settings": settings, "startup_knobs": knobs.defaults()}),
    )
