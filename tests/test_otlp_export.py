"""A real `marathon serve` process exporting over OTLP/HTTP to a real receiver (oteltap).

The exported spans must show the same orderings as the in-process store, and no personal data.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from oteltap import OtelTapHttpProtobufReceiver, OtelTapHttpProtobufReceiverSettings

from marathon import tracing
from marathon.local.servers import free_port
from marathon.local.stack import ThreadedServer
from marathon.service import fake
from tests.test_strategies import SLOW_EMAIL

pytestmark = pytest.mark.anyio

# Personal data that must never leave the process in a span or a log line.
PERSON = {
    "firstName": "Zebulon",
    "lastName": "Quixotic",
    "address": "77 Secretpath Lane",
}


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[list[Span], int]]:
    """A real OTLP/HTTP receiver; every span it receives lands in the list."""
    port = free_port()
    received: list[Span] = []
    tap = OtelTapHttpProtobufReceiver(OtelTapHttpProtobufReceiverSettings(http_port=port))
    async with tap:

        async def collect() -> None:
            async for span in tap.stream_traces():
                received.append(span)

        task = asyncio.create_task(collect())
        await asyncio.sleep(0)  # subscribed before anything is sent
        yield received, port
        task.cancel()


@pytest.fixture
def served(
    receiver: tuple[list[Span], int], pg_url: str, sandbox: ThreadedServer
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": pg_url,
        "RESEND_API_URL": sandbox.url,
        "MARATHON_EMAIL_SANDBOX": "1",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver[1]}",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_SERVICE_NAME": "marathon-export-test",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "marathon", "serve", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/health").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    try:
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(30)
        if proc.stderr and not proc.stderr.closed:
            proc.stderr.close()


def _attrs(span: Span) -> dict[str, Any]:
    return {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in span.attributes}


async def _trace(
    received: list[Span], trace_id: bytes, names: set[str], timeout: float = 20
) -> dict[str, Span]:
    """The spans of one trace by name, once all of `names` have arrived (or `timeout` s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = {s.name: s for s in received if s.trace_id == trace_id}
        if names <= set(found):
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"only {sorted(found)} arrived, wanted {sorted(names)}")


async def test_exported_spans_show_the_wait_until_ordering_without_personal_data(
    receiver: tuple[list[Span], int],
    served: tuple[str, subprocess.Popen[str]],
) -> None:
    received, _ = receiver
    url, proc = served
    email = f"zebulon.{time.time_ns()}@example.com"
    headers = {"Marathon-Knobs": SLOW_EMAIL}
    async with httpx.AsyncClient(base_url=url) as c:
        ok = await c.post(
            "/api/marathon/wait-until", json=fake.runner(**PERSON, email=email), headers=headers
        )
        dup = await c.post(
            "/api/marathon/sequential", json=fake.runner(**PERSON, email=email), headers=headers
        )
        bad = await c.post("/api/marathon/sequential", json=fake.runner(**PERSON, email="x@@y"))
        failing = await c.post(
            "/api/marathon/wait-until",
            json=fake.runner(**PERSON, email=f"fail.{email}"),
            headers={"Marathon-Knobs": "email_failure_rate=1, email_latency_ms=0"},
        )
    assert (ok.status_code, dup.status_code, bad.status_code, failing.status_code) == (
        201,
        409,
        400,
        201,
    )
    trace_id = bytes.fromhex(ok.headers["traceresponse"].split("-")[1])
    server_name = "POST /api/marathon/wait-until"
    by_name = await _trace(
        received, trace_id, {server_name, tracing.INSERT_SPAN, tracing.EMAIL_SPAN}
    )
    server = by_name[server_name]
    insert, mail = by_name[tracing.INSERT_SPAN], by_name[tracing.EMAIL_SPAN]
    assert insert.parent_span_id == server.span_id and mail.parent_span_id == server.span_id
    assert insert.end_time_unix_nano <= server.end_time_unix_nano
    assert insert.end_time_unix_nano <= mail.start_time_unix_nano
    assert server.end_time_unix_nano < mail.end_time_unix_nano
    assert _attrs(server)[tracing.STRATEGY_ATTR] == "wait-until"

    # Let the other traces export too, then look through everything that left the process.
    await asyncio.sleep(1.0)
    proc.terminate()
    _, stderr = proc.communicate(timeout=30)
    assert "background work failed: ApplicationError" in stderr, "the failure is not silent"
    assert len({s.trace_id for s in received}) >= 4, "every request was exported"
    text = "\n".join([stderr, *(repr(s) for s in received)])
    for secret in [email, "fail." + email, "x@@y", *PERSON.values()]:
        assert secret not in text, f"{secret!r} leaked into an exported span or a log line"


async def test_exported_spans_match_the_in_process_store_for_every_strategy(
    receiver: tuple[list[Span], int],
    served: tuple[str, subprocess.Popen[str]],
) -> None:
    """Same spans, same parents, same times over OTLP as in the server's own trace store."""
    received, _ = receiver
    url, _ = served
    async with httpx.AsyncClient(base_url=url) as c:
        for strategy in ("sequential", "fire-and-forget", "concurrent", "wait-until"):
            r = await c.post(
                f"/api/marathon/{strategy}",
                json=fake.runner(),
                headers={"Marathon-Knobs": SLOW_EMAIL},
            )
            trace_id = r.headers["traceresponse"].split("-")[1]
            for _ in range(200):
                stored = await c.get(f"/api/traces/{trace_id}")
                if stored.headers.get("Marathon-Spans-Running") == "0":
                    break
                await asyncio.sleep(0.05)
            spans = stored.json()["data"][0]["spans"]
            expected = {
                s["spanID"]: (
                    next((ref["spanID"] for ref in s["references"]), None),
                    s["operationName"],
                    s["startTime"],
                    s["startTime"] + s["duration"],
                )
                for s in spans
            }
            names = {name for _, name, _, _ in expected.values()}
            exported = await _trace(received, bytes.fromhex(trace_id), names)
            got = {
                sp.span_id.hex(): (
                    sp.parent_span_id.hex() or None,
                    sp.name,
                    sp.start_time_unix_nano // 1000,
                    # the store rounds the duration to µs, not the end
                    sp.start_time_unix_nano // 1000
                    + (sp.end_time_unix_nano - sp.start_time_unix_nano) // 1000,
                )
                for sp in received
                if sp.trace_id.hex() == trace_id
            }
            assert got == expected, strategy
            assert len(exported) == len(expected)


def test_log_lines_and_tracebacks_are_scrubbed_of_addresses() -> None:
    import io
    import logging

    from marathon.tracing import ScrubbingFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ScrubbingFilter())
    log = logging.getLogger("marathon.test-scrub")
    log.addHandler(handler)
    try:
        try:
            raise ValueError("Invalid `to` field: ada@example.com")
        except ValueError:
            log.exception("sending to %s failed", "grace@example.org")
    finally:
        log.removeHandler(handler)
    text = stream.getvalue()
    assert "ValueError" in text and "[redacted]" in text
    assert "@example" not in text
