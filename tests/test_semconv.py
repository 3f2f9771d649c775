"""Spans carry OpenTelemetry's stable HTTP and database attribute names (the instrumentations'
own opt-in, OTEL_SEMCONV_STABILITY_OPT_IN=http,database by default)."""

from __future__ import annotations

import copy
import json

import httpx
import pytest

from marathon import tracing
from marathon.service import fake
from marathon.views import svg, waterfall
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


def test_the_waterfall_reads_old_and_new_attribute_names() -> None:
    from pathlib import Path

    old = json.loads((Path(__file__).parent / "fixtures" / "jaeger-trace.json").read_text())
    new = copy.deepcopy(old)
    renamed = {deprecated: stable for stable, deprecated in waterfall.SEMCONV.items()}
    for span in new["data"][0]["spans"]:
        for tag in span["tags"]:
            tag["key"] = renamed.get(tag["key"], tag["key"])
    assert "http.status_code" in json.dumps(old) and "http.status_code" not in json.dumps(new)
    before, after = waterfall.parse(old)[0], waterfall.parse(new)[0]
    assert [b.http_status for b in before.bars] == [b.http_status for b in after.bars]
    assert before.bars[0].http_status == 201
    assert "HTTP 201" in svg.svg([after])
