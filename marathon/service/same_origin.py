"""A web page must not drive a local server: the guard in front of the API and the sandbox.

Loopback means "whoever is at the keyboard", not "whatever page the browser shows". Two
attacks reach a server on 127.0.0.1 from a page on another site, and each is refused here,
before the app reads a byte of the body:

- **DNS rebinding**: the page's own name (`evil.example`) is made to resolve to 127.0.0.1, so
  its scripts read and change the server as if they were its own. The `Host` they send is
  theirs: a server answers only to the names it may be reached by (any IP address,
  `localhost`, the name it is bound to, `MARATHON_ALLOWED_HOSTS`), else `421`.
- **Cross-site requests**: any page may send a "simple" `POST` (no preflight) to any address.
  A change (any method but GET/HEAD/OPTIONS) whose `Origin` is not the server's own, or that
  the browser marks `Sec-Fetch-Site: cross-site`/`same-site`, gets `403`. Browsers send
  `Origin` with every such request; our own processes and `curl` send neither header.

Bound beyond loopback, a server may be reached by names it cannot know (a classroom's DNS):
without `MARATHON_ALLOWED_HOSTS` it answers to any name there, and the instructor's token
(`marathon.service.instructor`) and the masking (`marathon.service.privacy`) govern what a
request may change and see, whoever sends it.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from urllib.parse import urlsplit

from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPResponseStartEvent, Receive, Scope, Send

from marathon.service.instructor import is_loopback
from marathon.service.settings import Settings

__all__ = ["guard", "refusal"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


def _split(netloc: str, scheme: str | None = None) -> tuple[str, str]:
    """`Host`'s or `Origin`'s (host, port), lower case, the scheme's default port as ''."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):  # an IPv6 literal: [::1]:8000
        host, _, rest = netloc[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = netloc.rpartition(":") if ":" in netloc else (netloc, "", "")
    if scheme is not None and port == _DEFAULT_PORTS.get(scheme):
        port = ""
    elif scheme is None and port in ("80", "443"):
        port = ""  # the Host header does not say the scheme
    return host.rstrip("."), port


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True  # no DNS answer stands behind an IP literal: nothing to rebind


def allowed_host(settings: Settings, host: str) -> bool:
    names = settings.allowed_hosts
    if "*" in names or (not names and not is_loopback(settings.bind_host)):
        return True
    return (
        _is_ip(host)
        or host == "localhost"
        or host.endswith(".localhost")  # RFC 6761: always loopback, never asked of DNS
        or host == settings.bind_host.lower()
        or host in names
    )


def refusal(settings: Settings, method: str, headers: dict[str, str]) -> tuple[int, str] | None:
    """(status, reason) if this request must be refused; None if it may go on."""
    host_header = headers.get("host")
    if host_header is not None:  # HTTP/1.0 without Host: no browser sends that
        host, port = _split(host_header)
        if not allowed_host(settings, host):
            return 421, (
                f"This server does not answer to the name {host!r} (a web page of another"
                " site may have pointed it here: DNS rebinding). Use its address, e.g."
                " http://127.0.0.1:<port>/, or start it with MARATHON_ALLOWED_HOSTS=<name>."
            )
    if method in SAFE_METHODS:
        return None
    origin = headers.get("origin")
    if origin is not None:
        parts = urlsplit(origin.strip())
        if (
            host_header is None
            or parts.scheme not in _DEFAULT_PORTS
            or _split(parts.netloc, parts.scheme) != (host, port)
        ):
            return 403, (
                f"A change from another origin ({origin[:100]!r}): a web page cannot drive"
                " this server. Make the change from this server's own page, or without a"
                " browser (curl, marathon's commands)."
            )
    elif headers.get("sec-fetch-site", "").lower() in ("cross-site", "same-site"):
        return 403, "A change sent by a page of another site: a web page cannot drive this server."
    return None


def guard(settings: Settings) -> Callable[[ASGIApp], ASGIApp]:
    """ASGI middleware: refuse (421/403, a JSON problem naming the reason) before the app."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == ScopeType.HTTP:
                # The last of repeated headers wins: no browser repeats Host or Origin.
                headers = {
                    k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
                }
                refused = refusal(settings, scope["method"], headers)
                if refused:
                    status, detail = refused
                    body = json.dumps({"status_code": status, "detail": detail}).encode()
                    start: HTTPResponseStartEvent = {
                        "type": "http.response.start",
                        "status": status,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                    await send(start)
                    await send({"type": "http.response.body", "body": body, "more_body": False})
                    return
            await app(scope, receive, send)

        return guarded

    return middleware
