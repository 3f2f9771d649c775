"""`marathon compare` on a fresh embedded stack: the orderings of the core issue, from outside."""

from __future__ import annotations

import json
from pathlib import Path

from marathon.views.waterfall import from_jaeger
from tests.conftest import run_python
from tests.jaeger_ui import assert_upload_file


def test_compare_json_reports_the_orderings(tmp_path: Path) -> None:
    page = tmp_path / "compare.html"
    upload = tmp_path / "jaeger.json"
    r = run_python(
        "-m",
        "marathon",
        "compare",
        "--json",
        "--email-latency-ms",
        "600",
        "--db-latency-ms",
        "20",
        "--knob",
        "email_latency_spread=0",
        "--html",
        str(page),
        "--jaeger-json",
        str(upload),
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert "email_latency_ms=600" in out["knobs"]
    s = {row["strategy"]: row for row in out["strategies"]}
    brief = {
        n: {k: v for k, v in row.items() if k not in ("trace", "attempt_traces", "runs")}
        for n, row in s.items()
    }
    assert list(s) == ["sequential", "fire-and-forget", "concurrent", "wait-until", "queued"]

    # A fresh process pays its first-use costs inside these requests: margins are wide (2x).
    assert s["sequential"]["client_ms"] >= 600 and s["sequential"]["server_ms"] >= 600, brief
    for name in ("fire-and-forget", "concurrent", "wait-until", "queued"):
        assert s[name]["client_ms"] < 300, brief[name]
        assert s[name]["settled_ms"] >= 600, ("the email took its time after the response", brief)
    for row in s.values():
        assert row["stored"] is True and row["delivered"] is True, brief
        assert row["error"] is None, brief
    assert s["concurrent"]["status"] == 202

    # The same relations, read from the trace each strategy recorded.
    w = {name: from_jaeger(row["trace"], row["attempt_traces"]) for name, row in s.items()}
    after = {name: {b.name for b in wf.after_response} for name, wf in w.items()}
    assert after["sequential"] == set()
    assert "send confirmation" in after["fire-and-forget"]
    assert "insert runner" not in after["fire-and-forget"]
    assert {"insert runner", "send confirmation"} <= after["concurrent"]
    assert "send confirmation" in after["wait-until"] and "insert runner" not in after["wait-until"]
    # queued: the job's attempt (another trace, linked) joins the request's waterfall, while
    # each trace's JSON stays one trace
    assert {"confirmation attempt", "send confirmation"} <= after["queued"]
    assert "insert runner" not in after["queued"]
    for row in s.values():
        for trace in (row["trace"], *row["attempt_traces"]):
            assert {span["traceID"] for span in trace["spans"]} == {trace["traceID"]}
    # --jaeger-json: every trace, attempts included, in a file Jaeger UI's upload accepts
    traces = assert_upload_file(json.loads(upload.read_text()))
    shown = [row["trace"]["traceID"] for row in s.values()]
    shown += [t["traceID"] for row in s.values() for t in row["attempt_traces"]]
    assert set(shown) <= {t["traceID"] for t in traces} and len(s["queued"]["attempt_traces"]) == 1
    html = page.read_text()
    assert html.count('<g class="waterfall"') == 5 and html.count('class="resp"') >= 4


def test_one_shape_of_trace_links_for_compare_and_the_notebooks() -> None:
    """`marathon compare --json`, `POST /api/scenarios/{name}` and the notebook helper give a
    trace the same links, under the JSON API's keys."""
    from marathon.lab.compare import Comparison
    from marathon.lab.notebook import Lab

    tid = "0af7651916cd43dd8448eb211c80319c"
    comparison = Comparison("http://api:8000/", None, {}, jaeger_ui_url="http://jaeger:16686/")
    lab = Lab("http://api:8000", jaeger_ui_url="http://jaeger:16686")
    expected = {
        "view": f"http://api:8000/traces/{tid}",
        "json": f"http://api:8000/api/traces/{tid}",
        "jaeger": f"http://jaeger:16686/trace/{tid}",
    }
    assert comparison.links(tid) == expected
    assert lab.trace_links(tid) == expected
    assert comparison.links(None) == lab.trace_links(None) == {}
    comparison.live = False  # a throwaway stack, gone: its links lead nowhere
    assert comparison.links(tid) == {}
