"""The `Marathon-Knobs` header: one request's knob overrides, checked, and each logged once."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.exceptions import PermissionDeniedException, ValidationException

from marathon import knobs

__all__ = ["MAX_LOGGED_OVERRIDES", "log_override_once", "request_knobs"]

log = logging.getLogger(__name__)

# Each per-request override is logged once, not on every request; the values come from clients,
# so the memory of what was logged is bounded (a client sending a new value each time would
# otherwise grow it for ever): past the bound, new values go unlogged.
MAX_LOGGED_OVERRIDES = 256
_logged_overrides: set[str] = set()


def log_override_once(name: str, value: object) -> None:
    override = f"{name}={value}"
    if override in _logged_overrides or len(_logged_overrides) >= MAX_LOGGED_OVERRIDES:
        return
    _logged_overrides.add(override)
    log.info("knob override per request: %s", override)


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
        overrides = knobs.parse_overrides(header, per_request=True)
    except knobs.KnobError as e:
        raise ValidationException(
            detail=f"Invalid {knobs.HEADER} header",
            extra=[{"key": knobs.HEADER, "message": str(e), "source": "header"}],
        ) from None
    for name, value in overrides.items():
        log_override_once(name, value)
    return knobs.defaults().replace(overrides)
