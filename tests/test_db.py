"""The embedded PostgreSQL keeps registrations across restarts; migrations apply once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from marathon.local.postgres import embedded_server
from marathon.registration import Runner, parse, uuid7
from marathon.service import fake
from marathon.service.db import Database, DuplicateRunner

pytestmark = pytest.mark.anyio


def _runner() -> Runner:
    runner = parse(fake.runner())
    assert isinstance(runner, Runner)
    return runner


async def test_registrations_survive_a_restart(tmp_path: Path) -> None:
    runner = _runner()
    with embedded_server(tmp_path / "pgdata") as url:
        db = Database(url)
        await db.open()
        await db.insert_runner(runner)
        await db.close()
    with embedded_server(tmp_path / "pgdata", ephemeral=True) as url:
        db = Database(url)
        await db.open()  # migrations again: a no-op
        try:
            row = await db.get_runner(runner.id)
            assert row is not None and row["distance"] == runner.distance
            with pytest.raises(DuplicateRunner):
                await db.insert_runner(replace(runner, id=uuid7()))  # same email
            async with db.pool.connection() as conn:
                cur = await conn.execute("SELECT count(*) FROM schema_migrations")
                assert (await cur.fetchone()) == (3,)  # runners, confirmations, notify
        finally:
            await db.close()
