"""`/api/scenarios`: the failure lessons, listed and run against this server, one at a time.

Running one changes what every learner shares (it sets knobs): beyond loopback it needs the
instructor's token. The server does not know how to play a scenario: `create_app` is handed
the lab's runner (`marathon.scenarios.ScenarioRunner`) and this only calls it.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
from litestar import Request, get, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException
from litestar.params import FromPath

from marathon.scenarios import SCENARIOS, ScenarioRunner
from marathon.service.instructor import require_admin

__all__ = ["ROUTES"]


@get("/api/scenarios")
async def list_scenarios() -> list[dict[str, Any]]:
    """The failure lessons, each with its knobs and one-line lesson."""
    return [{"name": s.name, "lesson": s.teaches, "knobs": s.knobs} for s in SCENARIOS.values()]


@post("/api/scenarios/{name:str}", status_code=200)
async def run_scenario(
    request: Request[Any, Any, State], state: State, name: FromPath[str]
) -> dict[str, Any]:
    """Run a scenario against this server; answers when every strategy's work has settled.
    One at a time: a second gets 409 naming the one running."""
    require_admin(request)
    scenario = SCENARIOS.get(name)
    if scenario is None:
        raise NotFoundException(detail=f"no scenario {name!r}; see GET /api/scenarios")
    if not state.settings.knobs_mutable:
        raise PermissionDeniedException(detail="Scenarios set knobs (MARATHON_KNOBS=off)")
    runner: ScenarioRunner | None = state.run_scenario
    if runner is None:
        raise HTTPException(
            status_code=501,
            detail="This server runs no scenarios: it was started without the lab"
            " (create_app(run_scenario=...); `marathon serve` has it)",
        )
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
        # Not cancellable: a client that hangs up cannot release the lock while the thread
        # still runs, nor skip the restore of what the scenario changed.
        return await anyio.to_thread.run_sync(runner, scenario, base_url, state.settings)
    finally:
        state.scenario_running = None


ROUTES = [list_scenarios, run_scenario]
