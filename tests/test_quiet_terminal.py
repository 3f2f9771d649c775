"""By default the terminal shows the lesson and one line per problem worth acting on; the
libraries' INFO lines, the access log and whole tracebacks come back with `-v`. Run as a learner
runs them: real subprocesses whose output is not a terminal."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import run_python

# A log line: "2026-12-02 05:52:31,261 INFO    procrastinate.jobs: Deferred 1 job".
LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d [\d:,]+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) +([\w.-]+):", re.M
)


def _loggers(text: str) -> set[str]:
    return {m.group(2) for m in LOG_LINE.finditer(text)}


def _compare_outage(*flags: str) -> subprocess.CompletedProcess[str]:
    return run_python(
        "-m", "marathon", *flags, "compare", "--scenario", "email-outage", env={"COLUMNS": "80"}
    )


def test_an_email_outage_is_the_lesson_s_result_not_a_traceback() -> None:
    r = _compare_outage()
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    assert "Traceback" not in out and "never retrieved" not in out, r.stderr
    assert _loggers(out) == set(), f"log lines between the lesson's lines:\n{r.stderr}"
    assert r.stdout.startswith("scenario email-outage: "), "the lesson says what it plays"
    assert "the confirmation is lost" in r.stdout, "the failures are the lesson's result"
    assert max(len(line) for line in r.stdout.splitlines()) <= 80


def test_verbose_brings_back_the_libraries_and_the_tracebacks() -> None:
    r = _compare_outage("-v")
    assert r.returncode == 0, r.stderr
    assert "Traceback" in r.stderr, "the failed job's traceback, whole"
    loggers = _loggers(r.stderr)
    assert any(name.startswith("procrastinate") for name in loggers), loggers
    assert "marathon.routes.registrations" in loggers, "the server's own warnings"
    assert {"uvicorn.access", "marathon.local.postgres"} <= loggers, "the servers' own lines"


@pytest.mark.parametrize("verbose", [False, True])
def test_serve_logs_no_page_poll_by_default(pg_url: str, verbose: bool) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": pg_url,
        "MARATHON_SANDBOX_PORT": "0",
        "MARATHON_EMAIL_SANDBOX": "1",
    }
    env.pop("RESEND_API_URL", None)
    env.pop("RESEND_API_KEY", None)
    flags = ["-v"] if verbose else []
    cmd = [sys.executable, "-m", "marathon", *flags, "serve", "--port", "0"]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    lines = []
    try:
        while not (m := re.search(r"API on (http://\S+?)/", line := proc.stderr.readline())):
            assert line, "the server stopped:\n" + "".join(lines)
            lines.append(line)
        url = m.group(1)
        deadline = time.monotonic() + 60  # it says so before its start-up (migrations) is done
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/api/health", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        for _ in range(3):  # what the page's polling does
            httpx.get(f"{url}/api/traces/{'0' * 32}", timeout=30)
            httpx.get(f"{url}/api/health", timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=60)[1]
    logs = "".join(lines) + rest
    polls = [line for line in logs.splitlines() if "GET /api/" in line]
    if verbose:
        assert len(polls) >= 7 and "uvicorn.access" in _loggers(logs), logs
    else:
        assert polls == [], logs
        assert all(name.startswith("marathon") for name in _loggers(logs)), "only ours"
        assert "Traceback" not in logs


def test_a_closed_pipe_ends_quietly() -> None:
    """`marathon scenarios | head -1`: the reader is gone before the command writes."""
    read, write = os.pipe()
    os.close(read)
    proc = subprocess.run(
        [sys.executable, "-m", "marathon", "scenarios"],
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )
    os.close(write)
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr
    assert proc.returncode == 1
