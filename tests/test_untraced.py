"""Only registrations make traces: polling, page loads and the worker's polling add none, and
the store keeps registration traces first."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider

from marathon import tracing
from marathon.service import fake
from marathon.tracing.store import TraceStore
from tests.conftest import QUICK, settled, trace_id_of

pytestmark = pytest.mark.anyio

# What the page, the viewers and a curious user request, again and again.
VIEWER_PATHS = [
    "/",
    "/registrations",
    "/outbox",
    "/api/health",
    "/api/info",
    "/api/background",
    "/api/knobs",
    "/api/scenarios",
    "/api/queue",
    "/api/traces?service=marathon-api",
    "/api/services",
    "/api/lesson",
    "/lesson/1",
    "/static/app.js",
    "/schema/openapi.json",
]


def _all_traces() -> set[int]:
    return set(tracing.STORE.recent(100_000))


async def test_polls_page_loads_and_the_worker_make_no_trace(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/marathon/queued", json=fake.runner(), headers={"Marathon-Knobs": QUICK}
    )
    assert r.status_code == 202
    trace_id = trace_id_of(r)
    await settled(trace_id)
    runner_id = r.json()["id"]
    before = _all_traces()
    for _ in range(10):
        assert (await client.get(f"/api/registrations/{runner_id}")).status_code == 200
    for path in [*VIEWER_PATHS, f"/traces/{trace_id:032x}", f"/api/traces/{trace_id:032x}"]:
        assert (await client.get(path)).status_code == 200, path
    await asyncio.sleep(0.6)  # the in-process worker polls the queue every 0.2 s meanwhile
    new = _all_traces() - before
    # A job attempt's trace may land now (this registration's, or another test's job on the
    # shared database): a registration's work, with its runner id. Nothing else may.
    for t in new:
        spans = (await settled(t)).spans  # an attempt still running has ended only some spans
        names = [s.name for s in spans]
        assert any(tracing.RUNNER_ATTR in (s.attributes or {}) for s in spans), names
        assert "confirmation attempt" in names, names


def test_noise_never_evicts_registration_traces() -> None:
    store = TraceStore(limit=5)
    provider = TracerProvider()
    provider.add_span_processor(store)
    tracer = provider.get_tracer("test")
    registrations = []
    for _ in range(3):
        with tracer.start_as_current_span("POST /api/marathon/wait-until") as span:
            span.set_attribute(tracing.STRATEGY_ATTR, "wait-until")  # set late, as Litestar does
            with tracer.start_as_current_span("send confirmation"):
                pass
        registrations.append(span.get_span_context().trace_id)
    for _ in range(50):
        with tracer.start_as_current_span("SELECT"):
            pass
    kept = store.recent(100)
    assert set(registrations) <= set(kept)
    assert len(kept) == 5
    # Registrations alone still roll over oldest first.
    for _ in range(5):
        with tracer.start_as_current_span("POST") as span:
            span.set_attribute(tracing.STRATEGY_ATTR, "sequential")
    assert not set(registrations) & set(store.recent(100))
