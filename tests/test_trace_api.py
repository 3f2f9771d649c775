"""Traces served by the app: Jaeger's query API (the calls Jaeger UI makes, its shapes and error
bodies), round trips into the model, queued registrations' attempts, the HTML view."""

from __future__ import annotations

import argparse
import json
import re
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from marathon import tracing
from marathon.app import create_app
from marathon.cli import commands
from marathon.local.stack import ThreadedServer
from marathon.service import fake
from marathon.service.settings import Settings
from marathon.views.waterfall import parse
from tests.conftest import settled, share, trace_id_of
from tests.jaeger_ui import ENVELOPE, assert_trace, assert_upload_file
from tests.test_strategies import SLOW_EMAIL

pytestmark = pytest.mark.anyio
QUEUED = "email_latency_ms=20, db_latency_ms=5, email_fail_first=1"


async def _register(client: httpx.AsyncClient, strategy: str, knobs: str = SLOW_EMAIL) -> str:
    r = await client.post(
        f"/api/marathon/{strategy}", json=fake.runner(), headers={"Marathon-Knobs": knobs}
    )
    await settled(trace_id_of(r))
    return f"{trace_id_of(r):032x}"


def _runner_id(trace: dict[str, Any]) -> str:
    return next(
        str(t["value"])
        for s in trace["spans"]
        for t in s["tags"]
        if t["key"] == tracing.RUNNER_ATTR
    )


def _jaeger_error(r: httpx.Response, code: int) -> str:
    """Jaeger's error body, exactly: `structuredResponse` with one `structuredError`."""
    assert r.status_code == code
    body = r.json()
    assert set(body) == ENVELOPE and body["data"] is None
    assert (body["total"], body["limit"], body["offset"]) == (0, 0, 0)
    [error] = body["errors"]
    assert set(error) == {"code", "msg"} and error["code"] == code
    return str(error["msg"])


async def test_a_served_trace_round_trips_into_the_model(client: httpx.AsyncClient) -> None:
    trace_id = await _register(client, "wait-until")
    r = await client.get(f"/api/traces/{trace_id}")
    assert r.headers["Marathon-Spans-Running"] == "0"
    doc = r.json()
    assert set(doc) == ENVELOPE and doc["errors"] is None
    assert_trace(doc["data"][0])
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


async def test_the_calls_jaeger_ui_makes(client: httpx.AsyncClient) -> None:
    """Search (service + operation + window + limit + minDuration + tags), open one (id in
    upper case), Compare (repeated traceID), the dependency graph: as Jaeger UI v1.73 sends them."""
    wait_until = await _register(client, "wait-until")
    sequential = await _register(client, "sequential")
    trace = (await client.get(f"/api/traces/{wait_until}")).json()["data"][0]
    runner_id = _runner_id(trace)

    services = (await client.get("/api/services")).json()
    assert set(services) == ENVELOPE and services["total"] == len(services["data"])
    assert {"marathon-api", "resend-sandbox"} <= set(services["data"])
    ops = (await client.get("/api/services/marathon-api/operations")).json()
    assert "POST /api/marathon/wait-until" in ops["data"] and ops["total"] == len(ops["data"])
    server_ops = (await client.get("/api/operations?service=marathon-api&spanKind=server")).json()
    assert {"name": "POST /api/marathon/wait-until", "spanKind": "server"} in server_ops["data"]
    assert all(o["spanKind"] == "server" for o in server_ops["data"])

    # The search form's query string (query-string's stringify: null values are bare keys).
    now_us = time.time_ns() // 1000
    form = (
        f"end={now_us + 1_000_000}&limit=20&lookback=1h&maxDuration&minDuration=15ms"
        "&operation=POST%20%2Fapi%2Fmarathon%2Fwait-until&service=marathon-api"
        f"&start={now_us - 3_600_000_000}"
    )
    tags = httpx.QueryParams({"tags": json.dumps({tracing.RUNNER_ATTR: runner_id})})
    found = (await client.get(f"/api/traces?{form}&{tags}")).json()
    assert set(found) == ENVELOPE and found["errors"] is None
    assert [t["traceID"] for t in found["data"]] == [wait_until]
    for t in found["data"]:
        assert_trace(t)
    by_operation = (await client.get(f"/api/traces?{form}")).json()["data"]
    assert wait_until in [t["traceID"] for t in by_operation]
    assert sequential not in [t["traceID"] for t in by_operation], "another operation"
    slow = (await client.get(f"/api/traces?{form.replace('=15ms', '=1h')}")).json()["data"]
    assert slow == [], "no span of an hour"
    later = f"/api/traces?service=marathon-api&start={now_us + 60_000_000}"
    assert (await client.get(later)).json()["data"] == []

    opened = await client.get(f"/api/traces/{wait_until.upper()}")
    assert opened.status_code == 200 and opened.json()["data"][0]["traceID"] == wait_until

    missing = "0" * 31 + "1"
    compare = await client.get(f"/api/traces?traceID={sequential}&traceID={wait_until}&traceID=1")
    body = compare.json()
    assert [t["traceID"] for t in body["data"]] == [sequential, wait_until], "exactly, in order"
    assert body["errors"] == [{"msg": "trace not found", "traceID": missing[16:]}]

    end_ms = time.time_ns() // 1_000_000 + 1000
    deps = (await client.get(f"/api/dependencies?endTs={end_ms}&lookback=604800000")).json()
    assert set(deps) == ENVELOPE
    calls = {(d["parent"], d["child"]): d["callCount"] for d in deps["data"]}
    assert calls[("marathon-api", "resend-sandbox")] >= 2, "both registrations sent an email"
    assert all(set(d) == {"parent", "child", "callCount"} for d in deps["data"])


async def test_jaeger_error_bodies(client: httpx.AsyncClient) -> None:
    assert _jaeger_error(await client.get("/api/traces"), 400) == "parameter 'service' is required"
    assert _jaeger_error(await client.get("/api/traces?traceID=xyz"), 400) == (
        'cannot parse traceID param: strconv.ParseUint: parsing "xyz": invalid syntax'
    )
    assert "maxDuration" in _jaeger_error(
        await client.get("/api/traces?service=s&minDuration=2s&maxDuration=1s"), 400
    )
    assert _jaeger_error(await client.get("/api/traces/xyz"), 400) == (
        'strconv.ParseUint: parsing "xyz": invalid syntax'
    )
    assert _jaeger_error(await client.get(f"/api/traces/{'0' * 32}"), 404) == "trace not found"
    assert _jaeger_error(await client.get("/api/operations"), 400) == (
        "parameter 'service' is required"
    )
    assert "endTs" in _jaeger_error(await client.get("/api/dependencies?endTs=now"), 400)
    assert "strategy" in _jaeger_error(await client.get("/api/traces?strategy=nope"), 400)


async def test_strategy_lists_registrations_newest_first(client: httpx.AsyncClient) -> None:
    older = await _register(client, "sequential")
    newer = await _register(client, "concurrent")
    ids = [
        t["traceID"]
        for t in (await client.get("/api/traces?service=marathon-api&limit=0")).json()["data"]
    ]
    assert ids.index(newer) < ids.index(older)
    only = (await client.get("/api/traces?strategy=sequential&limit=50")).json()["data"]
    assert older in [t["traceID"] for t in only] and newer not in [t["traceID"] for t in only]


async def test_a_missing_trace_gets_a_page_not_json(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/traces/{'0' * 32}")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "not in this server's store" in r.text and "evicted" in r.text
    assert '<a href="/">' in r.text
    bad = await client.get("/traces/not-a-trace")
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("text/html")
    assert "is not a trace id" in bad.text


async def test_the_html_view_draws_the_response_line(client: httpx.AsyncClient) -> None:
    trace_id = await _register(client, "fire-and-forget")
    r = await client.get(f"/traces/{trace_id.upper()}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert '<line class="resp"' in page
    # One script, the app's own (a click on a bar opens its span): nothing from elsewhere.
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/trace.js" defer>']
    assert '<details class="span" id="span-' in page, "every span in full"
    assert 'data-span="send confirmation"' in page
    assert "refresh" not in page, "a settled trace does not refresh itself"
    assert f"/api/traces/{trace_id}" in page


async def test_polling_endpoints_are_not_traced(client: httpx.AsyncClient) -> None:
    before = set(tracing.STORE.recent(500))
    await client.get("/api/traces?service=marathon-api")
    await client.get("/api/services")
    await client.get("/api/services/marathon-api/operations")
    await client.get("/api/operations?service=marathon-api")
    await client.get("/api/dependencies")
    await client.get("/api/health")
    await client.get("/api/info")
    assert set(tracing.STORE.recent(500)) == before


@pytest.fixture
def api(settings: Settings) -> Any:
    with ThreadedServer(create_app(settings)) as server:  # with its in-process worker
        yield server


def _trace_command(trace_id: str | None, url: str, **flags: Any) -> argparse.Namespace:
    defaults = {"jaeger": None, "file": None, "html": None, "svg": None, "json": None}
    return argparse.Namespace(trace_id=trace_id, url=url, **{**defaults, **flags})


def test_a_queued_registration_shows_its_attempts_everywhere(
    api: ThreadedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two attempts (the first fails), each a trace of its own linked to the request: the API
    keeps every trace whole, search finds the attempts, and the page and `marathon trace` draw
    them in (found through their links); `--json` writes a file Jaeger UI loads."""
    share(queue_retry_base_s=0.05)  # the retry policy is shared: never from the header
    r = httpx.post(
        f"{api.url}/api/marathon/queued",
        json=fake.runner(),
        headers={"Marathon-Knobs": QUEUED},
        timeout=30,
    )
    request_id = f"{trace_id_of(r):032x}"
    deadline = time.monotonic() + 20
    while httpx.get(f"{api.url}/api/registrations/{r.json()['id']}").json()["email"][
        "state"
    ] not in ("sent", "dead"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    status = httpx.get(f"{api.url}/api/registrations/{r.json()['id']}").json()
    attempt_ids = status["trace_ids"]["attempts"]
    assert status["email"]["state"] == "sent" and len(attempt_ids) == 2
    for trace_id in [request_id, *attempt_ids]:
        for _ in range(100):  # the last attempt's spans end just after its state is written
            if tracing.STORE.spans(int(trace_id, 16)) and not tracing.STORE.running(
                int(trace_id, 16)
            ):
                break
            time.sleep(0.05)

    served = httpx.get(f"{api.url}/api/traces/{request_id}").json()["data"]
    assert_trace(served[0])  # no attempt span merged into the request's JSON
    search = httpx.get(
        f"{api.url}/api/traces",
        params={
            "service": "marathon-api",
            "operation": "confirmation attempt",
            "tags": json.dumps({tracing.RUNNER_ATTR: r.json()["id"]}),
        },
    ).json()["data"]
    assert sorted(t["traceID"] for t in search) == sorted(attempt_ids), "attempts are searchable"

    page = httpx.get(f"{api.url}/traces/{request_id}").text
    assert page.count('data-span="confirmation attempt"') == 2 and "2 queued attempt(s)" in page

    out = tmp_path / "trace.json"
    assert commands.trace(_trace_command(request_id.upper(), api.url, json=str(out))) == 0
    shown = capsys.readouterr().out
    assert shown.count("confirmation attempt") == 2, shown
    traces = assert_upload_file(json.loads(out.read_text()))
    assert [t["traceID"] for t in traces] == [request_id, *attempt_ids]
    for attempt in traces[1:]:
        refs = [
            r for s in attempt["spans"] for r in s["references"] if r["refType"] == "FOLLOWS_FROM"
        ]
        assert [r["traceID"] for r in refs] == [request_id], "linked to the request"
    [w] = parse(json.loads(out.read_text()))  # the saved file draws the same, attempts in
    assert sum(b.name == "confirmation attempt" for b in w.bars) == 2


def test_marathon_trace_errors_are_one_line(
    api: ThreadedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert commands.trace(_trace_command("0" * 32, api.url)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not found" in err and "Traceback" not in err

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    assert commands.trace(_trace_command("ab" * 16, closed)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no server answers" in err and "marathon serve" in err

    assert commands.trace(_trace_command("xyz", api.url)) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert commands.trace(_trace_command(None, api.url, file=str(tmp_path / "no"))) == 1
    assert capsys.readouterr().err.count("\n") == 1
