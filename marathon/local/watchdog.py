"""Stop an embedded PostgreSQL when the process that started it dies without cleaning up.

A notebook kernel that is killed (kill -9, an out-of-memory kill, a crashed Jupyter) runs no
`atexit` handler, and `pg_ctl start` detaches the postmaster into its own session: it would run
on forever. This tiny process, started in its own session next to the server, watches the
owner's PID; once the owner is gone it asks the postmaster for a fast shutdown (SIGINT), then an
immediate one (SIGQUIT), and removes the owner's temporary folder. Stdlib only, so it starts fast.

Usage (what `marathon.lab.notebook` does)::

    python -m marathon.local.watchdog OWNER_PID PGDATA [FOLDER_TO_REMOVE]

The owner stops the watchdog (SIGTERM) when it stops the server itself.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path

__all__ = ["alive", "main", "postmaster_pid", "stop_postmaster", "watch"]

POLL_S = 0.25


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks (field 22 of /proc/PID/stat): tells a PID reused
    by another process from the one we watch. None where /proc is not available."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # the name in parentheses may contain spaces
    return fields[19] if fields[0] != "Z" else None  # a zombie has already died


def alive(pid: int, start_time: str | None = None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    current = _start_time(pid)
    if Path("/proc").is_dir() and current is None:
        return False  # gone between the two checks, or a zombie
    return start_time is None or current == start_time


def postmaster_pid(pgdata: Path) -> int | None:
    try:
        first = (pgdata / "postmaster.pid").read_text().splitlines()[0]
        return int(first)
    except (OSError, IndexError, ValueError):
        return None


def stop_postmaster(pgdata: Path, timeout_s: float = 5) -> bool:
    """Fast shutdown, then immediate shutdown; True once no postmaster runs for `pgdata`."""
    # The server may still be starting (its PID file not yet written): give it a moment.
    deadline = time.monotonic() + timeout_s
    pid = postmaster_pid(pgdata)
    while pid is None and time.monotonic() < deadline:
        time.sleep(POLL_S)
        pid = postmaster_pid(pgdata)
    if pid is None:
        return True
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not alive(pid):
                return True
            time.sleep(0.05)
    return not alive(pid)


def watch(owner: int, pgdata: Path, remove: Path | None = None) -> None:
    start_time = _start_time(owner)
    while alive(owner, start_time):
        time.sleep(POLL_S)
    stop_postmaster(pgdata)
    if remove is not None:
        shutil.rmtree(remove, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C meant for the kernel is not for us
    watch(int(args[0]), Path(args[1]), Path(args[2]) if len(args) == 3 else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
