"""The real components as pytest fixtures, for the exercises and the project's own tests
(`tests/conftest.py` imports them: one implementation).

They import the heavier parts of the package when a test asks for them: the exercises without a
server start quickly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from marathon import knobs

if TYPE_CHECKING:
    from marathon.local.stack import ThreadedServer

__all__ = ["anyio_backend", "default_knobs", "pg_url", "sandbox"]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Async tests run on anyio's plugin (`pytestmark = pytest.mark.anyio`): unlike
    pytest-asyncio it keeps a fixture's setup and teardown in one task, which the app's
    lifespan (an anyio task group) needs."""
    return "asyncio"


@pytest.fixture(autouse=True)
def default_knobs() -> Iterator[None]:
    """Every test starts from the documented defaults, whatever a test changed."""
    knobs.set_defaults(knobs.Knobs())
    yield
    knobs.set_defaults(knobs.Knobs())


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An embedded PostgreSQL for this run, or the one in `MARATHON_EXERCISE_DATABASE_URL`
    (the project's proof runs every exercise's answers in subprocesses that share its own)."""
    shared = os.environ.get("MARATHON_EXERCISE_DATABASE_URL")
    if shared:
        yield shared
        return
    from marathon.local import postgres

    with postgres.embedded_server(tmp_path_factory.mktemp("pg") / "data", ephemeral=True) as url:
        yield url


@pytest.fixture(scope="session")
def sandbox() -> Iterator[ThreadedServer]:
    """The Resend-compatible sandbox on a free port, over real HTTP."""
    from marathon.local.sandbox import create_sandbox
    from marathon.local.stack import ThreadedServer

    with ThreadedServer(create_sandbox(defaults=knobs.Knobs())) as server:
        yield server
