"""Traces served by the app: Jaeger's JSON shape, round trips into the model, the HTML view."""

from __future__ import annotations

import httpx
import pytest

from marathon import fake, tracing
from marathon.waterfall import parse
from tests.conftest import settled, trace_id_of
from tests.test_strategies import SLOW_EMAIL

pytestmark = pytest.mark.anyio


async def _register(client: httpx.AsyncClient, strategy: str) -> str:
    r = await client.post(
        f"/api/marathon/{strategy}", json=fake.runner(), headers={"Marathon-Knobs": SLOW_EMAIL}
    )
    await settled(trace_id_of(r))
    return f"{trace_id_of(r):032x}"


async def test_a_served_trace_round_trips_into_the_model(client: httpx.AsyncClient) -> None:
    trace_id = await _register(client, "wait-until")
    r = await client.get(f"/api/traces/{trace_id}")
    assert r.headers["Marathon-Spans-Running"] == "0"
    doc = r.json()
    assert set(doc) >= {"data", "total", "limit", "offset", "errors"}
    assert set(doc["data"][0]) == {"traceID", "spans", "processes", "warnings"}
    [w] = parse(doc)

    spans = {f"{s.context.span_id:016x}": s for s in tracing.STORE.spans(int(trace_id, 16))}
    assert {b.span_id for b in w.bars} == set(spans)
    origin = min(s.start_time for s in spans.values()) // 1000  # type: ignore[type-var]
    for bar in w.bars:
        span = spans[bar.span_id]
        parent = f"{span.parent.span_id:016x}" if span.parent else None
        assert bar.parent_id == parent and bar.name == span.name
        assert bar.start_ms == (span.start_time // 1000 - origin) / 1000  # type: ignore[operator]
    request = next(b for b in w.bars if b.request)
    assert w.response_ms == request.end_ms and w.strategy == "wait-until"
    assert {b.name for b in w.after_response} >= {tracing.EMAIL_SPAN}
    assert tracing.INSERT_SPAN not in {b.name for b in w.after_response}


async def test_recent_traces_newest_first_and_by_strategy(client: httpx.AsyncClient) -> None:
    older = await _register(client, "sequential")
    newer = await _register(client, "concurrent")
    ids = [t["traceID"] for t in (await client.get("/api/traces?limit=50")).json()["data"]]
    assert ids.index(newer) < ids.index(older)
    only = (await client.get("/api/traces?strategy=sequential&limit=50")).json()["data"]
    assert older in [t["traceID"] for t in only] and newer not in [t["traceID"] for t in only]
    assert (await client.get("/api/traces?strategy=nope")).status_code == 400


async def test_trace_errors(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/traces/xyz")).status_code == 400
    assert (await client.get(f"/api/traces/{'0' * 32}")).status_code == 404
    assert (await client.get(f"/traces/{'0' * 32}")).status_code == 404


async def test_the_html_view_draws_the_response_line(client: httpx.AsyncClient) -> None:
    trace_id = await _register(client, "fire-and-forget")
    r = await client.get(f"/traces/{trace_id}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert '<line class="resp"' in page and "<script" not in page
    assert 'data-span="send confirmation"' in page
    assert "refresh" not in page, "a settled trace does not refresh itself"
    assert f"/api/traces/{trace_id}" in page


async def test_polling_endpoints_are_not_traced(client: httpx.AsyncClient) -> None:
    before = set(tracing.STORE.recent(500))
    await client.get("/api/traces")
    await client.get("/api/health")
    await client.get("/api/info")
    assert set(tracing.STORE.recent(500)) == before
