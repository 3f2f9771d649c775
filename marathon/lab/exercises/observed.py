"""What a test observes after a request: its trace (from the app's in-process span store, once
none of its spans runs) and the emails the sandbox delivered."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from opentelemetry.sdk.trace import ReadableSpan

from marathon import tracing

if TYPE_CHECKING:
    from marathon.local.stack import ThreadedServer

__all__ = ["Trace", "outbox", "settled", "trace_id_of"]


def trace_id_of(response: httpx.Response) -> int:
    """The trace id from the W3C `traceresponse` header."""
    return int(response.headers["traceresponse"].split("-")[1], 16)


@dataclass
class Trace:
    spans: list[ReadableSpan]

    def one(self, name: str) -> ReadableSpan:
        found = [s for s in self.spans if s.name == name]
        assert len(found) == 1, f"expected one {name!r} span, got {[s.name for s in self.spans]}"
        return found[0]

    @property
    def server(self) -> ReadableSpan:
        found = [s for s in self.spans if tracing.STRATEGY_ATTR in (s.attributes or {})]
        assert len(found) == 1, f"expected one request span, got {[s.name for s in self.spans]}"
        return found[0]

    def children(self, parent: ReadableSpan) -> list[ReadableSpan]:
        assert parent.context is not None
        return [s for s in self.spans if s.parent and s.parent.span_id == parent.context.span_id]


async def settled(trace_id: int, within: float = 15) -> Trace:
    """The trace once none of its spans is running (checked twice, 50 ms apart)."""
    deadline = time.monotonic() + within
    quiet = 0
    while time.monotonic() < deadline:
        spans = tracing.STORE.spans(trace_id)
        quiet = quiet + 1 if spans and tracing.STORE.running(trace_id) == 0 else 0
        if quiet >= 2:
            return Trace(spans)
        await asyncio.sleep(0.05)
    raise AssertionError(f"trace {trace_id:032x} still has running spans after {within} s")


def outbox(sandbox: ThreadedServer, runner_id: str) -> list[dict[str, Any]]:
    """The emails the sandbox delivered for a registration (its idempotency key)."""
    r = httpx.get(f"{sandbox.url}/outbox", params={"idempotency_key": runner_id})
    r.raise_for_status()
    emails: list[dict[str, Any]] = r.json()["data"]
    return emails
