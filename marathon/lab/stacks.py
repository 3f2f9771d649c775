"""Throwaway stacks for the lab: the API on a thread, beside an embedded PostgreSQL in a
temporary folder and the sandbox on a free port."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from marathon.app import create_app
from marathon.lab import scenario_runner
from marathon.local import stack
from marathon.local.stack import ThreadedServer
from marathon.service import limits
from marathon.service.settings import Settings

__all__ = ["api_server", "fresh_stack"]


def api_server(settings: Settings, host: str = "127.0.0.1", port: int = 0) -> ThreadedServer:
    """The API on a thread of this process, able to run scenarios (the lab hands it the runner)."""
    app = create_app(settings.with_(bind_host=host), run_scenario=scenario_runner.for_server)
    return ThreadedServer(app, host=host, port=port, **limits.UVICORN)


@contextmanager
def fresh_stack() -> Iterator[tuple[str, Settings]]:
    """A throwaway embedded stack (PostgreSQL in a temporary folder, the sandbox on a free port)
    and the API; yields the API's URL and the settings it runs with."""
    with tempfile.TemporaryDirectory(prefix="marathon-") as tmp:
        settings = Settings.from_env().with_(
            database_url=None,
            data_dir=Path(tmp),
            resend_api_url=None,
            email_sandbox=True,
            sandbox_port=0,
        )
        with stack.running(settings, ephemeral_db=True) as s, api_server(s.settings) as api:
            yield api.url, s.settings
