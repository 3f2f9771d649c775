"""An httpx transport on aiohttp's connection pool: the email client's network layer.

httpx stays the client the SDK talks to: `email.PooledClient` builds `httpx.Request`s and the
httpx instrumentation traces every call (`instrument_client`: the `POST` span). Only the layer
under it changes. httpcore, httpx's own transport, checks every idle connection of the pool for
a hang-up (two system calls each, through anyio) whenever it hands out or takes back a
connection, and goes through anyio's locks and cancel scopes on every call: measured on this
machine, 2.8 ms of CPU per email through httpx's transport against 1.6 ms through this one, with
16 emails in flight (`docs/benchmarks.md`, "Where the CPU went").
"""

from __future__ import annotations

import functools
import ssl
import urllib.request
from typing import Any

import aiohttp
import httpx

__all__ = ["AiohttpTransport", "tls_context"]


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for the process, with httpx's CA bundle (certifi, as httpx verifies):
    building one reads and parses the bundle, tens of ms of CPU."""
    return httpx.create_ssl_context()


@functools.cache
def _proxy(scheme: str, host: str) -> str | None:
    """The proxy the environment names for this scheme and host (`HTTPS_PROXY`, `NO_PROXY`...),
    as httpx would use it: read once per host."""
    if urllib.request.proxy_bypass(host):
        return None
    return urllib.request.getproxies().get(scheme)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests over one `aiohttp.ClientSession` (made on first use, in the
    running loop: a session belongs to its loop). Bounded like httpx's pool: at most
    `limits.max_connections` connections, idle ones closed after `limits.keepalive_expiry`."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                ssl=tls_context(),
                limit=self._limits.max_connections or 0,
                keepalive_timeout=self._limits.keepalive_expiry or 0,
            )
            # auto_decompress off: httpx decodes the body by its Content-Encoding itself.
            # Not trust_env: aiohttp would then read ~/.netrc and the proxy variables again for
            # every request; `_proxy` reads the variables once per host instead.
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        content = await request.aread()
        # httpx has set every header (Host, Content-Length...): aiohttp must add none of its own.
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        try:
            async with self._open().request(
                request.method,
                str(request.url),
                headers=headers,
                data=content or None,
                skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
                allow_redirects=False,
                proxy=_proxy(request.url.scheme, request.url.host),
                timeout=aiohttp.ClientTimeout(
                    sock_connect=timeout.get("connect"), sock_read=timeout.get("read")
                ),
            ) as response:
                body = await response.read()
        except aiohttp.ConnectionTimeoutError as e:
            raise httpx.ConnectTimeout(str(e) or "connect timed out", request=request) from e
        except (TimeoutError, aiohttp.SocketTimeoutError) as e:
            raise httpx.ReadTimeout(str(e) or "read timed out", request=request) from e
        except aiohttp.ClientConnectorError as e:
            raise httpx.ConnectError(str(e), request=request) from e
        except aiohttp.ServerDisconnectedError as e:
            raise httpx.RemoteProtocolError(str(e), request=request) from e
        except aiohttp.ClientError as e:
            raise httpx.NetworkError(str(e), request=request) from e
        version = response.version or aiohttp.HttpVersion11
        extensions: dict[str, Any] = {
            "http_version": f"HTTP/{version.major}.{version.minor}".encode(),
            "reason_phrase": (response.reason or "").encode(),
        }
        return httpx.Response(
            response.status, headers=response.raw_headers, content=body, extensions=extensions
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
