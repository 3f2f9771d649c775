"""An API server in a process of its own: `marathon serve`, started and stopped with SIGTERM.

The `shutdown-mid-flight` scenario, run by a server over HTTP, needs a server it may stop. Run
in the server's own process it would share (and leak) threads, log handlers and the app
factory's global setup; a separate process is what a deploy really stops.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx

from marathon.service.settings import Settings

__all__ = ["ServerProcess", "free_port"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """`marathon serve` on a free loopback port, sharing `settings`' database and email API,
    without a queue worker of its own (the first server's keeps working) unless `worker`;
    its log goes to `log` (a file) if given."""

    def __init__(
        self,
        settings: Settings,
        traces_to: str | None = None,
        *,
        worker: bool = False,
        log: Path | None = None,
    ) -> None:
        """`traces_to`: an OTLP/HTTP traces URL (the scenario's server's `/v1/traces`) that
        gets its spans, flushed on SIGTERM before it exits; without one they die with it."""
        if not settings.database_url or not settings.resend_api_url:
            raise ValueError("a server process needs the database and email API URLs")
        self.port = free_port()
        self.env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "RESEND_API_URL": settings.resend_api_url,
            "MARATHON_EMAIL_SANDBOX": "1" if settings.uses_sandbox else "0",
            "MARATHON_WORKER": "on" if worker else "off",
        }
        self.env.pop("MARATHON_ADMIN_TOKEN", None)  # loopback only: it needs none
        self.traces_elsewhere = traces_to is None  # the scenario reads its outcomes elsewhere
        if traces_to:
            self.env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = traces_to
            if settings.admin_token:  # a receiver beyond loopback wants the instructor's token
                bearer = quote(f"Bearer {settings.admin_token}")
                self.env["OTEL_EXPORTER_OTLP_TRACES_HEADERS"] = f"authorization={bearer}"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> ServerProcess:
        """Start the process without waiting for it (several start faster side by side)."""
        if self.process is None:
            with open(self.log or os.devnull, "ab") as out:  # the child keeps its own copy
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "marathon", "serve", "--port", str(self.port)],
                    env=self.env,
                    stdout=out,
                    stderr=out,
                )
        return self

    def start(self, timeout: float = 120) -> ServerProcess:
        """Launch (if not yet) and wait until it answers."""
        self.launch()
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"marathon serve exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"marathon serve did not answer on {self.url} within {timeout} s")

    def stop(self, timeout: float = 90) -> None:
        """SIGTERM, as a deploy sends it: uvicorn finishes requests and drains wait_until."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
