"""The small, fast variant of the benchmarks (the full run is `make bench`)."""

from __future__ import annotations

import json

from tests.conftest import run_python


def test_quick_benchmark_measures_every_ordering_in_one_run() -> None:
    r = run_python("-m", "marathon.bench", "--quick", "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    [row] = result["orderings"]
    waits = row["client_ms"]
    assert waits["sequential"] >= row["email_latency_ms"], "sequential waits for the email"
    for name in ("fire-and-forget", "concurrent", "wait-until", "queued"):
        assert row["sequential_over"][name] > 1.5, (name, waits)
    assert [b["strategy"] for b in result["load"]] == list(waits)
    assert all(b["ok"] == b["requests"] == 10 for b in result["load"])
