"""The lesson's levers over HTTP: the knobs at run time, and the failure scenarios.

Both change what every learner on this server shares: beyond loopback they need the
instructor's token (`marathon.admin`). Scenarios run one at a time.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio
from litestar import Request, delete, get, post, put
from litestar.datastructures import State
from litestar.exceptions import (
    HTTPException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.params import FromPath, JSONBody

from marathon import knobs, scenarios
from marathon.admin import require_admin
from marathon.compare import Comparison
from marathon.server_process import ServerProcess

__all__ = ["ROUTES"]

log = logging.getLogger(__name__)


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
async def put_knobs(
    request: Request[Any, Any, State], state: State, data: JSONBody[dict[str, Any]]
) -> dict[str, Any]:
    """Change knobs for every later request; unknown names or bad values are a 400."""
    require_admin(request)
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
async def reset_knobs(request: Request[Any, Any, State], state: State) -> dict[str, Any]:
    """Back to the knobs the process started with."""
    require_admin(request)
    if not state.settings.knobs_mutable:
        raise PermissionDeniedException(detail="Knob changes are disabled (MARATHON_KNOBS=off)")
    knobs.set_defaults(state.startup_knobs)
    log.info("knobs reset to their start-up values")
    return _knobs_view(state)


@get("/api/scenarios")
async def list_scenarios() -> list[dict[str, Any]]:
    """The failure lessons, each with its knobs and one-line lesson."""
    return [
        {"name": s.name, "lesson": s.lesson, "knobs": s.knobs} for s in scenarios.SCENARIOS.values()
    ]


@post("/api/scenarios/{name:str}", status_code=200)
async def run_scenario(
    request: Request[Any, Any, State], state: State, name: FromPath[str]
) -> dict[str, Any]:
    """Run a scenario against this server; answers when every strategy's work has settled.
    One at a time: a second gets 409 naming the one running."""
    require_admin(request)
    scenario = scenarios.SCENARIOS.get(name)
    if scenario is None:
        raise NotFoundException(detail=f"no scenario {name!r}; see GET /api/scenarios")
    if not state.settings.knobs_mutable:
        raise PermissionDeniedException(detail="Scenarios set knobs (MARATHON_KNOBS=off)")
    running = state.get("scenario_running")
    if running:  # checked and set with no await between: one event loop, no race
        raise HTTPException(
            status_code=409,
            detail=f"Scenario {running[0]!r} is running (for {time.monotonic() - running[1]:.0f}"
            " s); scenarios run one at a time, try again when it ends",
            extra={"running": running[0]},
        )
    state.scenario_running = (name, time.monotonic())
    try:
        # Ourselves over loopback, never the Host header a client sent (it could point
        # anywhere, and the instructor's token goes with these calls).
        server = request.scope.get("server")
        base_url = f"http://127.0.0.1:{server[1] if server and server[1] else 80}"
        token = state.settings.admin_token
        settings = state.settings

        def run() -> Comparison:
            return scenarios.run(
                scenario,
                base_url,
                # A process of its own to stop; its spans come back to our /v1/traces.
                instance=lambda: ServerProcess(settings, traces_to=f"{base_url}/v1/traces"),
                admin_headers={"Authorization": f"Bearer {token}"} if token else None,
            )

        # Not cancellable: a client that hangs up cannot release the lock while the thread
        # still runs, nor skip the restore of what the scenario changed.
        comparison = await anyio.to_thread.run_sync(run)
    finally:
        state.scenario_running = None
    comparison.jaeger_ui_url = state.settings.jaeger_ui_url
    result: dict[str, Any] = comparison.as_json()
    return result


ROUTES = [get_knobs, put_knobs, reset_knobs, list_scenarios, run_scenario]
