"""Bounded by design: spans per trace, status streams, header read time; each limit answers
with a clear status instead of growing."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from litestar import Litestar
from opentelemetry.sdk.trace import TracerProvider

from marathon.app import create_app
from marathon.local.stack import ThreadedServer
from marathon.routes import registration_status
from marathon.service import fake
from marathon.service.limits import UVICORN, BoundedH11Protocol
from marathon.service.settings import Settings
from marathon.tracing.store import TraceStore
from tests.conftest import share


def test_one_trace_keeps_at_most_max_spans() -> None:
    """What a fixed client `traceparent` does: every request a span of one trace."""
    store = TraceStore(limit=5, max_spans=10)
    provider = TracerProvider()
    provider.add_span_processor(store)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("root") as root:
        for _ in range(50):
            with tracer.start_as_current_span("request"):
                pass
    trace_id = root.get_span_context().trace_id
    assert len(store.spans(trace_id)) == 10 and store.dropped == 41
    assert store.running(trace_id) == 0, "still says when the trace has settled"


class QuickDeadline(BoundedH11Protocol):
    header_timeout_s = 0.5


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
def api(app: Litestar) -> Iterator[ThreadedServer]:
    with ThreadedServer(app, **{**UVICORN, "http": QuickDeadline}) as server:
        yield server


def test_a_client_too_slow_with_its_headers_gets_408(api: ThreadedServer) -> None:
    with socket.create_connection((api.host, api.port), timeout=10) as slow:
        slow.sendall(b"POST /api/marathon/sequential HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        # Meanwhile a well-behaved client is served as usual.
        r = httpx.post(
            f"{api.url}/api/marathon/sequential",
            json=fake.runner(),
            headers={"Marathon-Knobs": "email_latency_ms=0, db_latency_ms=0"},
        )
        assert r.status_code == 201
        started = time.monotonic()
        answer = slow.recv(1024)
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert slow.recv(1024) == b"", "closed"
        assert time.monotonic() - started < 5


def test_an_idle_connection_is_closed_too(api: ThreadedServer) -> None:
    with socket.create_connection((api.host, api.port), timeout=10) as idle:
        assert idle.recv(1024).startswith(b"HTTP/1.1 408")


def _open_stream(api: ThreadedServer, runner_id: str) -> socket.socket:
    s = socket.create_connection((api.host, api.port), timeout=10)
    s.sendall(
        f"GET /api/registrations/{runner_id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    )
    assert s.recv(4096).startswith(b"HTTP/1.1 200"), "streaming"
    return s


def test_status_streams_are_capped_and_woken_by_notify(
    app: Litestar, api: ThreadedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    share(queue_retry_base_s=1.5)
    # No polling to fall back on: only a NOTIFY can wake a stream within the test.
    monkeypatch.setattr(registration_status, "SSE_FALLBACK_S", 60.0)
    app.state.status_watch.max_streams = 2
    r = httpx.post(
        f"{api.url}/api/marathon/queued",
        json=fake.runner(),
        headers={"Marathon-Knobs": "email_latency_ms=0, db_latency_ms=0, email_fail_first=1"},
    )
    runner_id = r.json()["id"]
    states = []
    with _open_stream(api, runner_id), _open_stream(api, runner_id):
        full = httpx.get(f"{api.url}/api/registrations/{runner_id}/events")
        assert full.status_code == 503 and full.headers["retry-after"] == "5"
        with httpx.stream(
            "GET", f"{api.url}/api/registrations/{runner_id}/events", timeout=30
        ) as s:
            assert s.status_code == 503
    with httpx.stream("GET", f"{api.url}/api/registrations/{runner_id}/events", timeout=30) as s:
        for line in s.iter_lines():
            if line.startswith("data:"):
                states.append(json.loads(line[5:])["email"]["state"])
    assert states[-1] == "sent" and "retrying" in states, states
