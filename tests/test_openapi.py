"""The OpenAPI document tells the truth: Schemathesis (its CLI, against a real uvicorn of the
app) finds no server error, no undocumented status or content type, and invalid input stores
nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation

from marathon import registration
from marathon.app import create_app
from marathon.local.stack import ThreadedServer
from marathon.service.settings import Settings

# Not fuzzed: changes to what everyone shares (a fuzzed email outage would be everyone's),
# scenario runs (each one minutes of work) and streams (open for minutes by design).
EXCLUDED = [
    "--exclude-method",
    "PUT",
    "--exclude-method",
    "DELETE",
    # One regex: Schemathesis keeps only the last of several. The OTLP receiver's body is
    # protobuf, which Schemathesis cannot generate: its refusals are tested in
    # tests/test_otlp_import.py.
    "--exclude-path-regex",
    r"^/api/(scenarios/|queue/retry-dead)|/events$|^/v1/traces$",
]


@pytest.fixture
def api(settings: Settings) -> Iterator[ThreadedServer]:
    with ThreadedServer(create_app(settings)) as server:
        yield server


@pytest.mark.parametrize(
    ("path", "template", "status"),
    [
        ("/traces/not-hex", "/traces/{trace_id}", 400),
        ("/traces/abc", "/traces/{trace_id}", 404),
        ("/api/waterfalls.svg", "/api/waterfalls.svg", 400),
        ("/api/waterfalls.svg?trace_id=abc", "/api/waterfalls.svg", 400),
        ("/api/waterfalls.svg?trace_id=abc&depth=x", "/api/waterfalls.svg", 400),
    ],
)
def test_a_page_or_an_image_documents_what_its_errors_send(
    api: ThreadedServer, path: str, template: str, status: int
) -> None:
    """A missing trace's page is HTML, a waterfall's error JSON: each says so (Litestar would
    send the image's errors as JSON labelled SVG, and document the page's as JSON)."""
    doc = httpx.get(f"{api.url}/schema/openapi.json").json()
    r = httpx.get(f"{api.url}{path}")
    assert r.status_code == status
    documented = doc["paths"][template]["get"]["responses"][str(status)]["content"]
    assert r.headers["content-type"].split(";")[0] in documented, (r.headers, documented)
    if "json" in r.headers["content-type"]:
        assert r.json()["status_code"] == status


def _runners_since(pg_url: str, since: object) -> list[tuple[str, ...]]:
    with suppress_instrumentation(), psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT first_name, last_name, email, address, distance FROM runners"
            " WHERE created_at >= %s",
            (since,),
        ).fetchall()
    return [tuple(r) for r in rows]


def test_schemathesis_finds_the_schema_truthful(
    api: ThreadedServer, pg_url: str, tmp_path: Path
) -> None:
    with suppress_instrumentation(), psycopg.connect(pg_url) as conn:
        started = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "st"),
            "run",
            f"{api.url}/schema/openapi.json",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,"
            "response_schema_conformance",
            "--max-examples",
            "15",
            "--phases",
            "examples,coverage,fuzzing",
            "--seed",
            "1",
            "--request-timeout",
            "20",
            "--header",
            "Marathon-Knobs: db_latency_ms=0, email_latency_ms=0",
            *EXCLUDED,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    for row in _runners_since(pg_url, started):  # whatever was stored was valid input
        keys = ["firstName", "lastName", "email", "address", "distance"]
        body = dict(zip(keys, row, strict=True))
        assert isinstance(registration.parse(body), registration.Runner), "stored invalid input"
