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
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

from marathon.service.settings import Settings

__all__ = ["is_instructor", "is_loopback", "require_admin"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve beyond loopback


def _has_token(request: Request[Any, Any, State], settings: Settings) -> bool:
    if not settings.admin_token:
        return False
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), settings.admin_token.encode()
    )


def is_instructor(request: Request[Any, Any, State]) -> bool:
    """Whether this request comes from the instructor: on loopback anyone, beyond it the
    token's holder (what `require_admin` lets through, as a question, for what one may see)."""
    settings: Settings = request.app.state.settings
    return is_loopback(settings.bind_host) or _has_token(request, settings)


def require_admin(request: Request[Any, Any, State]) -> None:
    """Return if this request may change shared state; else 401 (no or wrong token) or 403
    (no token configured on a public bind: the message says how to set one)."""
    settings: Settings = request.app.state.settings
    if is_loopback(settings.bind_host):
        return
    if not settings.admin_token:
        raise PermissionDeniedException(
            detail=f"This server listens on {settings.bind_host}, beyond loopback: shared changes"
            " need the instructor. Start it with MARATHON_ADMIN_TOKEN=<a secret> and send"
            " Authorization: Bearer <the secret>."
        )
    if not _has_token(request, settings):
        raise NotAuthorizedException(
            detail="Shared changes need the instructor's token: Authorization: Bearer <token>"
            " (MARATHON_ADMIN_TOKEN)",
            headers={"WWW-Authenticate": 'Bearer realm="marathon"'},
        )
