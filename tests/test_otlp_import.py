"""Spans from other processes: what the SDK's OTLP exporter encodes comes back whole, and the
store keeps received spans within its limits, registrations first."""

from __future__ import annotations

import gzip

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import Link, SpanContext, SpanKind, StatusCode

from marathon import tracing
from marathon.app import create_app
from marathon.service.settings import Settings
from marathon.tracing import otlp_import
from marathon.tracing.store import TraceStore


def _ids(context: SpanContext | None) -> tuple[int, int, bool] | None:
    return None if context is None else (context.trace_id, context.span_id, context.is_remote)


def _made(marker: bool = True) -> list[ReadableSpan]:
    """A request span and a cancelled work span under it, made by a real SDK."""
    store = TraceStore()
    provider = TracerProvider(resource=Resource.create({"service.name": "elsewhere"}))
    provider.add_span_processor(store)
    tracer = provider.get_tracer("test")
    with (
        tracer.start_as_current_span(
            "POST /api/marathon/{strategy}",
            kind=SpanKind.SERVER,
            attributes={"marathon.strategy": "fire-and-forget"} if marker else {},
        ) as request,
        tracer.start_as_current_span(
            "send confirmation",
            links=[Link(request.get_span_context(), {"why": "test"})],
            attributes={"marathon.owner": "nobody", "retries": (1, 2)},
        ) as work,
    ):
        work.add_event("cancelled", {"reason": "stopping"})
        work.set_status(StatusCode.ERROR, "cancelled: stopping")
    [trace_id] = store.recent()
    return store.spans(trace_id)


def test_an_export_comes_back_whole() -> None:
    made = _made()
    back = {s.name: s for s in otlp_import.decode(encode_spans(made).SerializeToString())}
    for span in made:
        got = back[span.name]
        assert _ids(got.context) == _ids(span.context)
        assert _ids(got.parent) == _ids(span.parent)
        assert (got.kind, got.start_time, got.end_time) == (
            span.kind,
            span.start_time,
            span.end_time,
        )
        assert dict(got.attributes or {}) == dict(span.attributes or {})
        assert got.status.status_code is span.status.status_code
        assert got.resource.attributes["service.name"] == "elsewhere"
    request, work = back["POST /api/marathon/{strategy}"], back["send confirmation"]
    assert work.status.description == "cancelled: stopping"
    assert [(e.name, dict(e.attributes or {})) for e in work.events] == [
        ("cancelled", {"reason": "stopping"})
    ]
    assert _ids(work.links[0].context)[:2] == _ids(request.context)[:2]  # type: ignore[index]


@pytest.mark.parametrize(
    "body",
    [b"\xff\xff\xff", encode_spans(_made()).SerializeToString()[:-3]],
    ids=["garbage", "truncated"],
)
def test_what_is_not_an_export_is_refused(body: bytes) -> None:
    with pytest.raises(otlp_import.InvalidExport):
        otlp_import.decode(body)


def test_received_spans_keep_the_store_bounded_registrations_first() -> None:
    registration = _made()
    reg_id = registration[0].context.trace_id
    store = TraceStore(limit=2)
    store.add_finished(registration)
    store.add_finished(registration)  # an exporter's retry: kept once
    assert len(store.spans(reg_id)) == 2 and store.running(reg_id) == 0
    for _ in range(2):
        store.add_finished(_made(marker=False))
    assert reg_id in store.recent(), "the registration outlives the noise"
    assert len(store.recent()) == 2

    full = TraceStore(max_spans=1)
    full.add_finished(registration)
    assert len(full.spans(reg_id)) == 1 and full.dropped == 1


PROTOBUF = {"Content-Type": otlp_import.MEDIA_TYPE}


@pytest.mark.anyio
async def test_the_api_receives_an_export_into_its_store(client: httpx.AsyncClient) -> None:
    made = _made()
    body = encode_spans(made).SerializeToString()
    wrong = await client.post("/v1/traces", content=body, headers={"Content-Type": "text/plain"})
    assert wrong.status_code == 415
    bad = await client.post("/v1/traces", content=b"\xff\xff", headers=PROTOBUF)
    assert bad.status_code == 400 and "ExportTraceServiceRequest" in bad.json()["detail"]
    headers = {**PROTOBUF, "Content-Encoding": "gzip"}
    ok = await client.post("/v1/traces", content=gzip.compress(body), headers=headers)
    assert ok.status_code == 200 and ok.headers["content-type"] == otlp_import.MEDIA_TYPE
    trace_id = f"{made[0].context.trace_id:032x}"
    r = await client.get(f"/api/traces/{trace_id}")
    assert r.status_code == 200 and r.headers["Marathon-Spans-Running"] == "0"
    [trace] = r.json()["data"]
    assert sorted(s["operationName"] for s in trace["spans"]) == sorted(s.name for s in made)
    assert {p["serviceName"] for p in trace["processes"].values()} == {"elsewhere"}


@pytest.mark.anyio
async def test_beyond_loopback_it_needs_the_instructors_token(settings: Settings) -> None:
    app = create_app(settings.with_(bind_host="0.0.0.0", admin_token="s3cret"))
    made = _made()
    body = encode_spans(made).SerializeToString()
    transport = httpx.ASGITransport(app=app)
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c,
    ):
        r = await c.post("/v1/traces", content=body, headers=PROTOBUF)
        assert r.status_code == 401
        assert not tracing.STORE.spans(made[0].context.trace_id)
        auth = {**PROTOBUF, "Authorization": "Bearer s3cret"}
        assert (await c.post("/v1/traces", content=body, headers=auth)).status_code == 200
