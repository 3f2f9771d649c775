"""Shared changes need the instructor: on loopback anyone at the keyboard is the instructor;
beyond it, changes to what every learner shares (the knobs in force, scenarios, dead letters)
need `MARATHON_ADMIN_TOKEN` as `Authorization: Bearer <token>`.

The page's `static/admin.js` (`window.marathonFetch`) asks for the token once and sends it.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException

from marathon.service.settings import Settings

__all__ = ["is_instructor", "is_loopback", "refusal", "require_admin", "shared_changes"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve beyond loopback


def shared_changes(settings: Settings) -> str:
    """Who may change what everyone shares on this server: "anyone" (loopback), "instructor"
    (the token) or "nobody" (beyond loopback without a token configured)."""
    if is_loopback(settings.bind_host):
        return "anyone"
    return "instructor" if settings.admin_token else "nobody"


def refusal(settings: Settings, authorization: str) -> HTTPException | None:
    """None if a request with this `Authorization` header may change shared state; else what
    to answer: 401 (no or wrong token) or 403 (no token configured on a public bind: the message
    says how to set one)."""
    who = shared_changes(settings)
    if who == "anyone":
        return None
    if who == "nobody":
        return PermissionDeniedException(
            detail=f"This server listens on {settings.bind_host}, beyond loopback: shared changes"
            " need the instructor. Start it with MARATHON_ADMIN_TOKEN=<a secret> and send"
            " Authorization: Bearer <the secret>."
        )
    scheme, _, token = authorization.partition(" ")
    expected = (settings.admin_token or "").encode()  # not empty: "instructor" has a token
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
        return NotAuthorizedException(
            detail="Shared changes need the instructor's token: Authorization: Bearer <token>"
            " (MARATHON_ADMIN_TOKEN)",
            headers={"WWW-Authenticate": 'Bearer realm="marathon"'},
        )
    return None


def is_instructor(request: Request[Any, Any, State]) -> bool:
    """May this request change shared state (the page asks, to know whose screen it is on)?"""
    settings: Settings = request.app.state.settings
    return refusal(settings, request.headers.get("authorization", "")) is None


def require_admin(request: Request[Any, Any, State]) -> None:
    """Return if this request may change shared state; else raise `refusal`'s answer."""
    settings: Settings = request.app.state.settings
    refused = refusal(settings, request.headers.get("authorization", ""))
    if refused is not None:
        raise refused
