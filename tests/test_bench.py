"""The small variant of `marathon bench`: every benchmark runs, against separate processes,
from the one entry point."""

from __future__ import annotations

import json

import pytest

from marathon.bench import arguments
from marathon.strategies import STRATEGIES
from tests.conftest import run_python


# Every benchmark starts its own server processes: about a minute on an idle 2-core machine.
@pytest.mark.timeout(450)
def test_quick_benchmark_measures_the_server_from_outside() -> None:
    r = run_python("-m", "marathon", "bench", "--quick", "--json", timeout=600)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert set(result) == {"machine", "quick", *arguments.BENCHMARKS}, "all, without a NAME"
    t = result["throughput"]
    for side in ("tracing_on", "tracing_off", "tracing_sampled_10pct"):
        cpu = t[side]["cpu_ms_per_request"]
        assert 0 < cpu["min"] <= cpu["median"] <= cpu["max"], t
        assert t[side]["requests_per_s"]["median"] > 0
    assert t["failed_requests"] == 0
    for strategy in ("wait-until", "concurrent"):
        m = result["memory"][strategy]
        # a loaded machine may reset a connection or two of the 50; the work must pile up
        assert m["failed_requests"] <= m["requests"] // 50 and m["pending"] > 0, m
        assert m["kb_per_pending"] < 256, m
    q = result["queue"]
    assert set(q["emails_per_s"]) == {"1", "2"} and q["emails_per_s"]["1"]["median"] > 0
    assert q["worker_cpu_ms_per_email"]["median"] > 0
    f = result["fidelity"]["strategies"]
    assert f["sequential"]["median_client_ms"] >= 440, "sequential waits for database and email"
    assert f["concurrent"]["median_client_ms"] < 400, "concurrent waits for neither"
    for strategy in ("concurrent", "wait-until"):
        s = result["sustained"][strategy]
        assert s["requests"] > 0 and s["pending_max"] >= 0
    o = result["outage"]
    assert o["as_expected"] and o["exactly_once"] == o["registrations"] == 5, o
    by = {s["strategy"]: s for s in result["shutdown"]["strategies"]}
    assert result["shutdown"]["as_expected"] and set(by) == set(STRATEGIES), result["shutdown"]
    assert by["queued"]["lost"] == 0 and by["queued"]["exit_code"] == 0, by["queued"]
