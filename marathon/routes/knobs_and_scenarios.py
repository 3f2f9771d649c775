"""The lesson's levers over HTTP: the knobs at run time, and the failure scenarios."""

from __future__ import annotations

import logging
from typing import Any

import anyio
from litestar import Request, delete, get, post, put
from litestar.datastructures import State
from litestar.exceptions import NotFoundException, PermissionDeniedException, ValidationException
from litestar.params import FromPath, JSONBody

from marathon import knobs, scenarios
from marathon.stack import ThreadedServer

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
    """Run a scenario against this server; answers when every strategy's work has settled."""
    scenario = scenarios.SCENARIOS.get(name)
    if scenario is None:
        raise NotFoundException(detail=f"no scenario {name!r}; see GET /api/scenarios")
    if not state.settings.knobs_mutable:
        raise PermissionDeniedException(detail="Scenarios set knobs (MARATHON_KNOBS=off)")
    base_url = str(request.base_url).rstrip("/")

    def instance() -> ThreadedServer:  # for shutdown-mid-flight: a server it may stop
        from marathon.app import create_app

        return ThreadedServer(create_app(state.settings.with_(worker_in_process=False)))

    comparison = await anyio.to_thread.run_sync(
        lambda: scenarios.run(scenario, base_url, instance=instance)
    )
    comparison.jaeger_ui_url = state.settings.jaeger_ui_url
    return comparison.as_json()


ROUTES = [get_knobs, put_knobs, reset_knobs, list_scenarios, run_scenario]
