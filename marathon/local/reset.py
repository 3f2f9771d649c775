"""`marathon reset`: clear the registrations, so the same addresses register again.

Only the rows: runners, confirmation records and the queue's jobs (the schema stays). The
embedded sandbox's outbox lives in the server's memory, so restarting the server empties it.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import psycopg

from marathon.local import pg_holders, postgres
from marathon.service.settings import Settings

__all__ = ["run"]

log = logging.getLogger(__name__)

# Children before parents; procrastinate's events and locks go with its jobs (CASCADE).
TABLES = ("confirmations", "procrastinate_jobs", "runners")


def _holders(pgdata: Path) -> list[int]:
    """The live processes (a `marathon serve`, a worker...) that use this data folder's server.

    Not "is its PostgreSQL running?": a marathon killed with `kill -9` leaves its PostgreSQL
    running with nobody behind it, and reset adopts that one (then stops it).
    """
    return pg_holders.sweep(pgdata).live


async def _clear(url: str) -> int:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        present = []
        for table in TABLES:
            cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
            row = await cur.fetchone()
            if row and row[0]:
                present.append(table)
        cur = await conn.execute(
            "SELECT count(*) FROM runners" if "runners" in present else "SELECT 0"
        )
        row = await cur.fetchone()
        if present:
            await conn.execute(f"TRUNCATE {', '.join(present)} CASCADE")
        return int(row[0]) if row else 0


def run(settings: Settings, *, yes: bool = False) -> int:
    if settings.database_url:
        if not yes:
            log.error("DATABASE_URL is set: add --yes to clear that database's registrations")
            return 2
        count = asyncio.run(_clear(settings.database_url))
    else:
        pgdata = settings.data_dir / "pgdata"
        if not pgdata.exists():
            log.info("nothing to reset: no embedded database in %s", settings.data_dir)
            return 0
        if holders := _holders(pgdata):
            log.error(
                "a marathon server is using %s (pid %s): stop it (Ctrl-C), then run marathon reset",
                pgdata,
                ", ".join(map(str, holders)),
            )
            return 1
        with postgres.embedded_server(pgdata) as url:
            count = asyncio.run(_clear(url))
    log.info("reset: %d runner(s) deleted, with their confirmations and queued jobs", count)
    return 0
