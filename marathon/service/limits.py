"""How much one server lets its clients hold at once: uvicorn's settings, and a deadline for
reading a request's headers (uvicorn has none: a client that sends one header byte a minute
would hold its connection forever).

| limit | value | when exceeded |
|---|---|---|
| open connections and requests in progress | `LIMIT_CONCURRENCY` | `503` from uvicorn |
| time to send a request's headers | `HEADER_TIMEOUT_S` | `408`, connection closed |
| idle keep-alive connection | `KEEP_ALIVE_S` | connection closed |
| request line and headers | `MAX_HEADER_BYTES` | `400`, connection closed |
| a registration's body | `registration.MAX_BODY_BYTES` | `413` |
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HEADER_TIMEOUT_S", "UVICORN", "BoundedH11Protocol"]

LIMIT_CONCURRENCY = 1000
HEADER_TIMEOUT_S = 10.0
KEEP_ALIVE_S = 5
MAX_HEADER_BYTES = 16 * 1024

_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class BoundedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, plus a deadline for each request's headers."""

    header_timeout_s = HEADER_TIMEOUT_S
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.cycle is not None and not self.cycle.response_complete:
            self._disarm()  # the headers are in: the request runs
        elif self._header_timer is None and not self.transport.is_closing():
            self._arm()  # the first bytes of a request: its headers have this long

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.write(_TIMEOUT)
            self.transport.close()


# uvicorn.run(app, **UVICORN) / uvicorn.Config(app, **UVICORN)
UVICORN: dict[str, Any] = {
    "http": BoundedH11Protocol,
    "limit_concurrency": LIMIT_CONCURRENCY,
    "timeout_keep_alive": KEEP_ALIVE_S,
    "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
}
