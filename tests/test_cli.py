"""The commands a learner types: `--help` everywhere, and `marathon demo --once` from cold."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from marathon.cli import build_parser
from marathon.strategies import STRATEGIES
from tests.conftest import run_python

COMMANDS = ["serve", "demo", "compare", "scenarios", "trace", "worker", "sandbox"]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_python("-m", "marathon", *args, env=env)


def test_top_level_help_lists_commands_knobs_and_settings() -> None:
    r = _run("--help")
    assert r.returncode == 0
    for word in [*COMMANDS, "MARATHON_EMAIL_LATENCY_MS", "DATABASE_URL", "RESEND_API_KEY"]:
        assert word in r.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    r = _run(command, "--help")
    assert r.returncode == 0 and f"usage: marathon {command}" in r.stdout
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert command in sub.choices  # type: ignore[operator]


def test_a_bad_knob_in_the_environment_stops_with_its_reason() -> None:
    r = _run("sandbox", "--port", "0", env={"MARATHON_EMAIL_FAILURE_RATE": "2"})
    assert r.returncode == 2
    assert "email_failure_rate must be between 0 and 1" in r.stderr


def test_demo_once_from_a_cold_start(tmp_path: Path) -> None:
    """A fresh data folder: initdb, the sandbox, the API, one registration per strategy."""
    env = {
        "MARATHON_DATA_DIR": str(tmp_path / "data"),
        "MARATHON_SANDBOX_PORT": "0",
        "COLUMNS": "80",
    }
    r = _run("demo", "--once", "--port", "0", env=env)
    assert r.returncode == 0, r.stderr
    # The lesson only: no server's or library's log line, no traceback, in 80 columns.
    assert r.stderr == "", r.stderr
    assert "Traceback" not in r.stdout and " INFO " not in r.stdout
    page = tmp_path / "data" / "compare.html"
    wide = [line for line in r.stdout.splitlines() if len(line) > 80 and str(page) not in line]
    assert wide == [], "wider than COLUMNS"
    rows = [line for line in r.stdout.splitlines() if any(f" {s} " in line for s in STRATEGIES)]
    assert len(rows) >= len(STRATEGIES), r.stdout
    for strategy in STRATEGIES:
        row = next(line for line in rows if f" {strategy} " in line)
        assert "yes" in row and "NO" not in row, row
    assert (tmp_path / "data" / "pgdata" / "PG_VERSION").exists(), "data kept for next time"
    assert r.stdout.count("response sent at") == len(STRATEGIES), "one waterfall each"
    assert f"page: {page}" in r.stdout and "<svg" in page.read_text()
    # Then the loss: the shutdown lesson, who lost the email, who kept it, and what next.
    loss = r.stdout.split("And what gets lost?", 1)[1]
    lost = re.search(r"Lost the email: (.*)", loss)
    kept = re.search(r"Kept it: +(.*)", loss)
    assert lost and kept, loss
    assert "fire-and-forget" in lost.group(1), loss
    assert {"sequential", "wait-until", "queued"} <= set(kept.group(1).split(", ")), loss
    assert "/lesson/1" in loss and "marathon workshop list" in loss and "make notebooks" in loss
    # The server has exited: no link to it, and the traces are where the page drew them.
    assert not re.search(r"http://\S+/traces/[0-9a-f]{32}", r.stdout), "a link to a dead server"
    assert f"this run's traces:         drawn in {page}" in loss


def test_serve_help_names_every_endpoint() -> None:
    from marathon.app import create_app
    from marathon.service.settings import Settings

    text = _run("serve", "--help").stdout
    for route in create_app(Settings(database_url="postgresql://unused")).routes:
        if route.path.startswith("/schema/"):
            continue  # Litestar's OpenAPI viewers: "/schema" stands for them
        # Each literal stretch of the route's path, e.g. "/api/registrations/" and "/events".
        pieces = [p for p in re.split(r"\{[^}]*\}", route.path) if p.strip("/")] or ["GET  /"]
        missing = [p for p in pieces if not re.search(re.escape(p) + r"[ {?\n]", text)]
        assert not missing, f"{route.path} is missing from `marathon serve --help`"


def test_help_names_every_setting() -> None:
    """Every declared setting, the tracing switches among them, is in `marathon --help`."""
    from marathon.service.settings import SETTINGS

    names = {s.env for s in SETTINGS}
    assert names >= {
        "DATABASE_URL",
        "MARATHON_TRACING",
        "OTEL_SDK_DISABLED",
        "OTEL_SEMCONV_STABILITY_OPT_IN",
        "OTEL_TRACES_SAMPLER",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "MARATHON_EVENT_LOOP",
    }
    text = build_parser().format_help()
    missing = sorted(n for n in names if n not in text)
    assert not missing, f"not in marathon --help: {missing}"
