"""SIGTERM in the middle of a burst, the short variant of `marathon bench shutdown`:
real `marathon serve` processes, a sandbox that outlives them, a real signal.

Every accepted registration of sequential, concurrent, wait-until and queued (after a restart)
gets exactly one email; fire-and-forget's emails still in flight when its process ends are lost.
"""

from __future__ import annotations

from pathlib import Path

from marathon.bench import shutdown
from marathon.local.stack import ThreadedServer

# Each email takes 1 s: the signal comes while many are in flight, and nothing that would
# finish them (a drain, a retry) can pass for luck.
SLOW_EMAIL = "email_latency_ms=1000, email_latency_spread=0, db_latency_ms=20"


def test_sigterm_mid_burst_loses_only_fire_and_forget_emails(
    pg_url: str, sandbox: ThreadedServer, tmp_path: Path
) -> None:
    # The session's sandbox outlives every API process too, and saves starting one more.
    results = shutdown.run(
        pg_url, tmp_path, burst=20, concurrency=5, knobs_header=SLOW_EMAIL, sandbox_url=sandbox.url
    )
    table = shutdown.render(results)
    by = {r.strategy: r for r in results}
    assert list(by) == ["sequential", "fire-and-forget", "concurrent", "wait-until", "queued"]
    for r in results:
        assert r.exit_code == 0, table
        # The signal comes once 10 are accepted; those in flight (and, on a fast machine, a
        # few sent before the server reacts) are answered too, the rest find the port closed.
        assert r.sent == 20 and r.accepted >= 10 and r.refused == 20 - r.accepted, table
        assert r.rows == r.accepted, f"every accepted row stored, nothing else\n{table}"
        assert r.duplicated == 0, table
    for name in ("sequential", "concurrent", "wait-until", "queued"):
        assert by[name].exactly_once == by[name].accepted, f"{name} kept every email\n{table}"
    assert by["queued"].after_restart > 0, f"the restart delivered what waited\n{table}"
    assert by["fire-and-forget"].lost > 0, f"the lesson: in flight at exit, lost\n{table}"
    assert (
        by["fire-and-forget"].lost + by["fire-and-forget"].exactly_once
        == by["fire-and-forget"].accepted
    )
