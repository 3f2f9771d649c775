"""What this server is and how its background work is doing."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.params import Parameter

from marathon import knobs, tracing
from marathon.background import Background
from marathon.service import confirmations, privacy, queue
from marathon.service.instructor import is_instructor, require_admin
from marathon.service.settings import Settings
from marathon.strategies import LESSONS, STRATEGIES

__all__ = ["ROUTES"]

MAX_DEAD_PAGE = 500


@get("/api/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/api/background")
async def background_status(state: State) -> dict[str, int]:
    """How much `wait_until` work is in flight, and how much room requests hold for work they
    have not handed over yet (fire-and-forget tasks are not counted: nobody keeps them)."""
    bg: Background = state.background
    return {
        "pending": bg.pending,
        "reserved": bg.reserved,
        "started": bg.started,
        "failed": bg.failed,
        "dropped": bg.dropped,
    }


@get("/api/queue")
async def queue_summary(
    request: Request[Any, Any, State],
    state: State,
    dead_offset: Annotated[int, Parameter(ge=0, le=10_000_000)] = 0,
    dead_limit: Annotated[int, Parameter(ge=1, le=MAX_DEAD_PAGE)] = 50,
) -> dict[str, Any]:
    """Queued confirmations by state, and a page of the dead letters (all of them, page by
    page: `dead_total` says how many) with their last error. Others than the instructor see
    each runner's id shortened (`privacy`)."""
    summary = await confirmations.summary(state.db, dead_offset, dead_limit)
    if not is_instructor(request):
        for letter in summary["dead_letters"]:
            letter["runner_id"] = privacy.runner_id(letter["runner_id"], full=False)
    return summary


@post("/api/queue/retry-dead", status_code=200)
async def retry_dead(request: Request[Any, Any, State], state: State) -> dict[str, int]:
    """Every dead letter back in the queue (an instructor's change beyond loopback)."""
    require_admin(request)
    return {"retried": await queue.retry_dead(state.jobs, state.db)}


@get("/api/info")
async def info(state: State) -> dict[str, Any]:
    """What this server is and offers: strategies, email mode, links, knobs in force."""
    settings: Settings = state.settings
    current = knobs.defaults().as_dict()
    return {
        "service": settings.service_name,
        "strategies": [
            {"name": n, "path": f"/api/marathon/{n}", "lesson": LESSONS[n].summary}
            for n in STRATEGIES
        ],
        "email": {
            "mode": "sandbox" if settings.uses_sandbox else "resend",
            "outbox_url": f"{settings.email_api_url}/" if settings.uses_sandbox else None,
        },
        "jaeger_ui_url": settings.jaeger_ui_url,
        "tracing": "on" if tracing.enabled() else "off",
        "knobs": [{**k, "value": current[k["name"]]} for k in knobs.describe()],
    }


ROUTES = [health, background_status, queue_summary, retry_dead, info]
