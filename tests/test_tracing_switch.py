"""`MARATHON_TRACING=off` (or `OTEL_SDK_DISABLED=true`) installs no instrumentation at all.

Instrumentation is process-global, so each case runs in its own Python process.
"""

from __future__ import annotations

import json

import pytest

from marathon import tracing
from marathon.local.stack import ThreadedServer
from tests.conftest import run_python

CHECK = """
import asyncio, json, sys
import httpx
from opentelemetry import trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.instrumentation.propagators import get_global_response_propagator
from marathon.service import fake
from marathon.app import create_app
from marathon.service.settings import Settings

app = create_app(Settings(database_url=sys.argv[1], resend_api_url=sys.argv[2],
                          email_sandbox=True, data_dir=sys.argv[3]))

async def main():
    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")
    async with app.lifespan(), client as c:
        r = await c.post("/api/marathon/wait-until", json=fake.runner(),
                         headers={"Marathon-Knobs": "db_latency_ms=0, email_latency_ms=0"})
        traces = (await c.get("/api/traces?service=marathon-api")).json()
        info = (await c.get("/api/info")).json()
        missing = await c.get("/api/traces/" + "ab" * 16)
    return {
        "status": r.status_code,
        "traceresponse": r.headers.get("traceresponse"),
        "psycopg": PsycopgInstrumentor().is_instrumented_by_opentelemetry,
        "httpx": HTTPXClientInstrumentor().is_instrumented_by_opentelemetry,
        "propagator": get_global_response_propagator() is not None,
        "provider": type(trace.get_tracer_provider()).__name__,
        "middleware": [type(p).__name__ for p in app.plugins],
        "traces": traces,
        "info_tracing": info["tracing"],
        "missing": [missing.status_code, missing.json()["errors"][0]["msg"]],
    }

print(json.dumps(asyncio.run(main())))
"""


def test_tracing_off_installs_nothing_and_the_views_say_so(
    pg_url: str, sandbox: ThreadedServer, tmp_path: object
) -> None:
    env = {"MARATHON_TRACING": "off", "OTEL_SDK_DISABLED": ""}
    r = run_python("-c", CHECK, pg_url, sandbox.url, str(tmp_path), env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    off = json.loads(r.stdout.strip().splitlines()[-1])
    assert off["status"] == 201, "registrations work without tracing"
    assert off["traceresponse"] is None
    assert not off["psycopg"] and not off["httpx"] and not off["propagator"]
    assert off["provider"] == "ProxyTracerProvider", "no provider installed: the API's no-op"
    assert not any("Telemetry" in name for name in off["middleware"])
    assert off["traces"]["data"] == [] and "tracing is off" in off["traces"]["errors"][0]["msg"]
    assert off["info_tracing"] == "off"
    assert off["missing"][0] == 404 and "tracing is off" in off["missing"][1]


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, True),
        ({"MARATHON_TRACING": "on"}, True),
        ({"MARATHON_TRACING": "off"}, False),
        ({"OTEL_SDK_DISABLED": "true"}, False),  # the standard switch: the same, whole way
        ({"OTEL_SDK_DISABLED": "TRUE", "MARATHON_TRACING": "on"}, False),
        ({"OTEL_SDK_DISABLED": "false"}, True),
    ],
)
def test_either_switch_turns_tracing_off(env: dict[str, str], on: bool) -> None:
    assert tracing.enabled(env) is on


def test_a_misspelt_switch_is_an_error() -> None:
    with pytest.raises(ValueError, match="MARATHON_TRACING must be on or off"):
        tracing.enabled({"MARATHON_TRACING": "of"})
