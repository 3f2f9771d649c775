"""`/api/knobs`: the knobs in force for every learner on this server, changed at run time.

Changes are shared: beyond loopback they need the instructor's token
(`marathon.service.instructor`).
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, delete, get, put
from litestar.datastructures import State
from litestar.exceptions import PermissionDeniedException, ValidationException
from litestar.params import JSONBody

from marathon import knobs
from marathon.service.instructor import require_admin

__all__ = ["ROUTES"]

log = logging.getLogger(__name__)


def _knobs_view(state: State) -> dict[str, Any]:
    return {
        "knobs": knobs.defaults().as_dict(),
        "startup": state.startup_knobs.as_dict(),
        "mutable": state.settings.knobs_mutable,
        "describe": knobs.describe(),
    }


def _set(state: State, new: knobs.Knobs) -> dict[str, Any]:
    """Put `new` in force; the view, with `replaced`: the previous value of each knob that
    changed (only those), so a caller can put back exactly what it changed without a GET first
    (`marathon.lab.shared_knobs`)."""
    before = knobs.defaults().as_dict()
    knobs.set_defaults(new)
    replaced = {
        name: before[name] for name, value in new.as_dict().items() if before[name] != value
    }
    return {**_knobs_view(state), "replaced": replaced}


@get("/api/knobs")
async def get_knobs(state: State) -> dict[str, Any]:
    """The knobs in force (process-wide), those the process started with, and what each does."""
    return _knobs_view(state)


@put("/api/knobs")
async def put_knobs(
    request: Request[Any, Any, State], state: State, data: JSONBody[dict[str, Any]]
) -> dict[str, Any]:
    """Change knobs for every later request, and say what they replaced; unknown names or bad
    values are a 400."""
    require_admin(request)
    if not state.settings.knobs_mutable:
        raise PermissionDeniedException(detail="Knob changes are disabled (MARATHON_KNOBS=off)")
    try:
        changed = knobs.defaults().replace(data)
    except (knobs.KnobError, TypeError) as e:
        raise ValidationException(
            detail="Invalid knobs", extra=[{"key": "body", "message": str(e)}]
        ) from None
    view = _set(state, changed)
    for name, value in view["replaced"].items():
        log.info("knob override at run time: %s %s -> %s", name, value, view["knobs"][name])
    return view


@delete("/api/knobs", status_code=200)
async def reset_knobs(request: Request[Any, Any, State], state: State) -> dict[str, Any]:
    """Back to the knobs the process started with, and say what they replaced."""
    require_admin(request)
    if not state.settings.knobs_mutable:
        raise PermissionDeniedException(detail="Knob changes are disabled (MARATHON_KNOBS=off)")
    view = _set(state, state.startup_knobs)
    log.info("knobs reset to their start-up values")
    return view


ROUTES = [get_knobs, put_knobs, reset_knobs]
