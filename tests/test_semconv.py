"""Spans carry OpenTelemetry's stable HTTP and database attribute names (the instrumentations'
own opt-in, OTEL_SEMCONV_STABILITY_OPT_IN=http,database by default)."""

from __future__ import annotations

import httpx
import pytest

from marathon import fake, tracing
from tests.conftest import QUICK, settled, trace_id_of

pytestmark = pytest.mark.anyio


async def test_http_and_database_spans_use_the_stable_names(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/marathon/sequential", json=fake.runner(), headers={"Marathon-Knobs": QUICK}
    )
    assert r.status_code == 201
    trace = await settled(trace_id_of(r))
    server = dict(trace.server.attributes or {})
    insert = dict(trace.one("INSERT").attributes or {})
    [client_span] = [s for s in trace.spans if s.name == "POST"]  # the SDK's call to the sandbox
    sent = dict(client_span.attributes or {})
    assert server["http.request.method"] == "POST"
    assert server["http.response.status_code"] == 201
    assert insert["db.system.name"] == "postgresql"
    assert insert["db.query.text"].startswith("INSERT INTO runners")
    assert sent["url.full"].endswith("/emails") and sent["server.address"]
    assert sent["http.response.status_code"] == 200
    deprecated = {"http.method", "http.status_code", "http.url", "db.statement", "db.system"}
    for span in trace.spans:
        assert not deprecated & set(span.attributes or {}), span.name
    assert tracing.SEMCONV_DEFAULT == "http,database"
