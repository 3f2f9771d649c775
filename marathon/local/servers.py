"""`marathon COMMAND` in a process of its own on a free loopback port, stopped with SIGTERM.

The `shutdown-mid-flight` scenario, run by a server over HTTP, needs a server it may stop. Run
in the server's own process it would share (and leak) threads, log handlers and the app
factory's global setup; a separate process is what a deploy really stops. The benchmarks
(`marathon.bench`) start every server, sandbox and worker this way, and read each one's CPU time
and memory.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

import httpx
import psutil

from marathon.service.settings import Settings

__all__ = ["ServerProcess", "free_port"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """`marathon ARGS` (`serve`, `sandbox`, `worker`, ...) with `env` (default: this process's),
    listening on a free loopback port when it has a `health` path to wait for (a worker has
    none); its output goes to `log` (a file) if given.

        api = ServerProcess.serve(settings).start()   # waits until /api/health answers
        ...
        api.stop()                                    # SIGTERM: drain, then exit
    """

    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        health: str = "/api/health",
        log: Path | None = None,
    ) -> None:
        self.args = list(args)
        self.env = dict(os.environ if env is None else env)
        self.health = health
        self.log = log
        self.port = free_port()
        self.traces_elsewhere = False  # `serve`: no OTLP receiver, its spans die with it
        self.process: subprocess.Popen[bytes] | None = None
        self._ps: psutil.Process | None = None

    @classmethod
    def serve(
        cls,
        settings: Settings,
        traces_to: str | None = None,
        *,
        worker: bool = False,
        log: Path | None = None,
    ) -> ServerProcess:
        """`marathon serve` sharing `settings`' database and email API, without a queue worker
        of its own (the first server's keeps working) unless `worker`.

        `traces_to`: an OTLP/HTTP traces URL (the scenario's server's `/v1/traces`) that gets
        its spans, flushed on SIGTERM before it exits; without one they die with it."""
        if not settings.database_url or not settings.resend_api_url:
            raise ValueError("a server process needs the database and email API URLs")
        env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "RESEND_API_URL": settings.resend_api_url,
            "MARATHON_EMAIL_SANDBOX": "1" if settings.uses_sandbox else "0",
            "MARATHON_WORKER": "on" if worker else "off",
        }
        env.pop("MARATHON_ADMIN_TOKEN", None)  # loopback only: it needs none
        if traces_to:
            env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = traces_to
            if settings.admin_token:  # a receiver beyond loopback wants the instructor's token
                bearer = quote(f"Bearer {settings.admin_token}")
                env["OTEL_EXPORTER_OTLP_TRACES_HEADERS"] = f"authorization={bearer}"
        server = cls(["serve"], env, log=log)
        server.traces_elsewhere = traces_to is None  # the scenario reads its outcomes elsewhere
        return server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def name(self) -> str:
        """What error messages call it: its log, else its command."""
        return str(self.log) if self.log else f"marathon {' '.join(self.args)}"

    def launch(self) -> ServerProcess:
        """Start the process without waiting for it (several start faster side by side)."""
        if self.process is None:
            listen = ["--host", "127.0.0.1", "--port", str(self.port)] if self.health else []
            with open(self.log or os.devnull, "ab") as out:  # the child keeps its own copy
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "marathon", *self.args, *listen],
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            self._ps = psutil.Process(self.process.pid)
        return self

    def start(self, timeout: float = 120) -> ServerProcess:
        """Launch (if not yet) and wait until `health` answers 200 (a worker: until launched)."""
        self.launch()
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while self.health and time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name}: exited with {self.process.returncode}")
            try:
                if httpx.get(self.url + self.health, timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        if not self.health:
            return self
        self.stop()
        raise RuntimeError(f"{self.name}: did not answer on {self.url} within {timeout} s")

    def cpu_ms(self) -> float:
        """Its CPU time so far (user + system), in ms: what the benchmarks charge per request."""
        assert self._ps is not None, "not launched"
        t = self._ps.cpu_times()
        return float(t.user + t.system) * 1000

    def rss_kb(self) -> int:
        """Its resident memory, in KiB (0 once it has exited)."""
        try:
            return int(self._ps.memory_info().rss // 1024) if self._ps else 0
        except psutil.Error:
            return 0

    def stop(self, timeout: float = 90, *, kill: bool = False) -> None:
        """SIGTERM, as a deploy sends it (`serve`: uvicorn finishes requests and drains
        wait_until), or SIGKILL with `kill`; killed if still running after `timeout`. Safe
        twice, and before a launch."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
