"""The small, fast variant of the benchmarks (the full run is `make bench`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_quick_benchmark_measures_every_ordering_in_one_run() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "marathon.bench", "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "MARATHON_SANDBOX_PORT": "0"},
    )
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    [row] = result["orderings"]
    waits = row["client_ms"]
    assert waits["sequential"] >= row["email_latency_ms"], "sequential waits for the email"
    for name in ("fire-and-forget", "concurrent", "wait-until", "queued"):
        assert row["sequential_over"][name] > 1.5, (name, waits)
    assert [b["strategy"] for b in result["load"]] == list(waits)
    assert all(b["ok"] == b["requests"] == 10 for b in result["load"])
