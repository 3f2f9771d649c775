"""What this server is and how its background work is doing."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.datastructures import State

from marathon import confirmations, knobs, tracing
from marathon.background import Background
from marathon.settings import Settings
from marathon.strategies import LESSONS, STRATEGIES

__all__ = ["ROUTES"]


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


@get("/api/queue")
async def queue_summary(state: State) -> dict[str, Any]:
    """Queued confirmations by state, and the dead letters with their last error."""
    return await confirmations.summary(state.db)


@get("/api/info")
async def info(state: State) -> dict[str, Any]:
    """What this server is and offers: strategies, email mode, links, knobs in force."""
    settings: Settings = state.settings
    current = knobs.defaults().as_dict()
    return {
        "service": settings.service_name,
        "strategies": [
            {"name": n, "path": f"/api/marathon/{n}", "lesson": LESSONS[n]} for n in STRATEGIES
        ],
        "email": {
            "mode": "sandbox" if settings.uses_sandbox else "resend",
            "outbox_url": f"{settings.email_api_url}/" if settings.uses_sandbox else None,
        },
        "jaeger_ui_url": settings.jaeger_ui_url,
        "tracing": "on" if tracing.enabled() else "off",
        "knobs": [{**k, "value": current[k["name"]]} for k in knobs.describe()],
    }


ROUTES = [health, background_status, queue_summary, info]
