"""What Jaeger UI expects of the JSON it reads, pinned from its source (jaeger-ui v1.73:
`utils/readJsonFile`, `reducers/trace`, `model/transform-trace-data`, `selectors/trace`) and from
Jaeger's UI model (`internal/uimodel/model.go`, v2.10): names, types and units."""

from __future__ import annotations

import re
from typing import Any

ENVELOPE = {"data", "total", "limit", "offset", "errors"}  # structuredResponse
TRACE = {"traceID", "spans", "processes", "warnings"}  # uimodel.Trace
SPAN = {  # uimodel.Span (parentSpanID/process omitted: omitempty, deprecated)
    "traceID",
    "spanID",
    "flags",
    "operationName",
    "references",
    "startTime",
    "duration",
    "tags",
    "logs",
    "processID",
    "warnings",
}
VALUE_TYPES = {"string", "bool", "int64", "float64", "binary"}
# Microseconds since the epoch: 2001..2286 (milliseconds or nanoseconds would fall outside).
PLAUSIBLE_US = (10**15, 10**16)


def _key_values(items: Any) -> None:
    assert isinstance(items, list)
    for kv in items:
        assert set(kv) == {"key", "type", "value"} and isinstance(kv["key"], str), kv
        assert kv["type"] in VALUE_TYPES, kv


def assert_trace(trace: dict[str, Any]) -> None:
    """One trace as Jaeger's query API serves it, and as a valid single trace: every span
    carries the trace's own id and its parent (if any) is in it."""
    assert set(trace) == TRACE
    trace_id = trace["traceID"]
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id), "lower case, 128 bits"
    assert isinstance(trace["processes"], dict) and trace["processes"]
    for process in trace["processes"].values():
        assert isinstance(process["serviceName"], str) and process["serviceName"]
        _key_values(process["tags"])
    ids = [s["spanID"] for s in trace["spans"]]
    assert trace["spans"] and len(ids) == len(set(ids)), "span ids unique in a trace"
    for span in trace["spans"]:
        assert set(span) == SPAN, set(span) ^ SPAN
        assert span["traceID"] == trace_id, "a span of another trace in this one"
        assert re.fullmatch(r"[0-9a-f]{16}", span["spanID"])
        assert isinstance(span["operationName"], str)
        assert isinstance(span["startTime"], int) and isinstance(span["duration"], int)
        assert PLAUSIBLE_US[0] < span["startTime"] < PLAUSIBLE_US[1], "µs since the epoch"
        assert span["duration"] >= 0
        assert span["processID"] in trace["processes"]
        _key_values(span["tags"])
        for log in span["logs"]:
            assert set(log) == {"timestamp", "fields"}
            assert PLAUSIBLE_US[0] < log["timestamp"] < PLAUSIBLE_US[1]
            _key_values(log["fields"])
        for i, ref in enumerate(span["references"]):
            assert set(ref) == {"refType", "traceID", "spanID"}
            assert ref["refType"] in ("CHILD_OF", "FOLLOWS_FROM")  # else the UI throws
            if ref["refType"] == "CHILD_OF":
                assert i == 0, "the UI takes the first reference as the parent"
                assert ref["traceID"] == trace_id and ref["spanID"] in ids


def assert_upload_file(doc: Any) -> list[dict[str, Any]]:
    """A file Jaeger UI's "JSON File" upload accepts: not OTLP (`resourceSpans`), an object
    whose `data` is a list of traces (`loadJsonDone` maps `payload.data`)."""
    assert isinstance(doc, dict) and "resourceSpans" not in doc
    assert isinstance(doc["data"], list) and doc["data"]
    for trace in doc["data"]:
        assert_trace(trace)
    ids = [t["traceID"] for t in doc["data"]]
    assert len(ids) == len(set(ids)), "each trace once"
    return list(doc["data"])
