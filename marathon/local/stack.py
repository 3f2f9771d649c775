"""Start the whole demo on one laptop: embedded PostgreSQL, the Resend sandbox, the API.

Each server is a real uvicorn on a real port. `ThreadedServer` runs one on its own thread and
event loop, so a client in the main thread measures it as a browser would.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from marathon.local import event_loop, postgres, shutdown
from marathon.local.sandbox import create_sandbox
from marathon.service.settings import Settings

__all__ = ["Stack", "ThreadedServer", "check_ports", "running"]

log = logging.getLogger(__name__)


class ThreadedServer:
    """A real uvicorn server for an ASGI app, on its own thread and event loop."""

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        setting: str = "--port",
        **config: Any,
    ) -> None:
        # `setting` names what chooses the port, for the message when it is busy.
        self.sock = shutdown.listen(host, port, setting=setting)
        self.host, self.port = self.sock.getsockname()[:2]
        # uvicorn's lines (access log included) go through the process's own logging set-up
        # and its levels (cli.setup_logging: quiet by default, everything with -v)
        config.setdefault("log_config", None)
        config.setdefault("log_level", None)
        config.setdefault("loop", event_loop.choice())
        self.server = shutdown.Server(uvicorn.Config(app, lifespan="on", **config))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 60) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on {self.url} did not start (see the log above)")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 90) -> None:
        """What SIGTERM does to uvicorn: stop accepting, finish requests, run the shutdown."""
        self.server.should_exit = True
        if self.thread.ident is not None:  # never started: nothing to join, still close
            self.thread.join(timeout)
        self.sock.close()

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class Stack:
    settings: Settings  # with database_url and resend_api_url filled in
    sandbox: ThreadedServer | None


def check_ports(settings: Settings, host: str, port: int) -> None:
    """Before anything starts: the API's port and the embedded sandbox's (beside it) are
    free, or one `PortBusy` names every busy one."""
    ports = [(host, port, "--port")]
    if settings.needs_embedded_sandbox:
        ports.append(("127.0.0.1", settings.sandbox_port_for(port), "MARATHON_SANDBOX_PORT"))
    shutdown.check_free(ports)


@contextmanager
def running(
    settings: Settings, *, ephemeral_db: bool = False, api_port: int = 8000
) -> Iterator[Stack]:
    """The database and the email API the settings ask for, started where needed; the
    sandbox beside the API's port (`Settings.sandbox_port_for`)."""
    sandbox_port = settings.sandbox_port_for(api_port)
    with ExitStack() as stack:
        if not settings.database_url:
            url = stack.enter_context(
                postgres.embedded_server(settings.data_dir / "pgdata", ephemeral=ephemeral_db)
            )
            settings = settings.with_(database_url=url)
        sandbox = None
        if settings.needs_embedded_sandbox:
            sandbox = stack.enter_context(
                ThreadedServer(create_sandbox(), port=sandbox_port, setting="MARATHON_SANDBOX_PORT")
            )
            settings = settings.with_(resend_api_url=sandbox.url)
            log.info("Resend sandbox on %s (outbox: %s/)", sandbox.url, sandbox.url)
        yield Stack(settings, sandbox)
