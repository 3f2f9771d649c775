"""Jaeger's query semantics (`marathon.tracing.jaeger_query`), pinned against Jaeger's own source:
`cmd/query/app/query_parser.go` (v2.10) for parameters, units and error messages, its memory
store for what a search matches, `model.TraceIDFromString` for ids. No server: fixed traces."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from marathon.tracing import jaeger_query as q
from marathon.views.waterfall import from_jaeger, parse

FIXTURE = Path(__file__).parent / "fixtures" / "jaeger-trace.json"
T0 = 1763870400000000  # the fixture's first span, µs
REQUEST_ID = "5f0c6a2b9d3e4f1a8b7c6d5e4f3a2b1c"
ATTEMPT_ID = "00000000000000000000000000a77e01"


def _request() -> dict[str, Any]:
    trace: dict[str, Any] = json.loads(FIXTURE.read_text())["data"][0]
    return trace


def _attempt(start_us: int = T0 + 2_000_000) -> dict[str, Any]:
    """A queued job's attempt: a trace of its own, its span linked to the request span."""
    span = {
        "traceID": ATTEMPT_ID,
        "spanID": "b000000000000001",
        "operationName": "confirmation attempt",
        "references": [
            {"refType": "FOLLOWS_FROM", "traceID": REQUEST_ID, "spanID": "a000000000000001"}
        ],
        "startTime": start_us,
        "duration": 300_000,
        "tags": [
            {"key": "marathon.runner_id", "type": "string", "value": "r-1"},
            {"key": "marathon.attempt", "type": "int64", "value": 1},
            {"key": "span.kind", "type": "string", "value": "consumer"},
        ],
        "logs": [
            {
                "timestamp": start_us + 5,
                "fields": [{"key": "event", "type": "string", "value": "retry"}],
            }
        ],
        "processID": "p1",
        "warnings": None,
        "flags": 1,
    }
    processes = {"p1": {"serviceName": "marathon-worker", "tags": []}}
    return {"traceID": ATTEMPT_ID, "spans": [span], "processes": processes, "warnings": None}


def _query(**params: str | list[str]) -> q.TraceQuery:
    values = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    return q.parse_trace_query(values, now_us=T0 + 10_000_000, strategies=["wait-until", "queued"])


def _error(**params: str | list[str]) -> str:
    with pytest.raises(q.QueryError) as e:
        _query(**params)
    return str(e.value)


def test_trace_ids_in_any_case_and_short_ids_left_padded() -> None:
    assert q.parse_trace_id(REQUEST_ID.upper()) == int(REQUEST_ID, 16)
    assert q.parse_trace_id("1") == 1 and q.jaeger_id(1) == "0000000000000001"
    assert q.jaeger_id(int(REQUEST_ID, 16)) == REQUEST_ID
    with pytest.raises(q.QueryError, match=r"^TraceID cannot be longer than 32 hex characters: "):
        q.parse_trace_id("f" * 33)
    with pytest.raises(q.QueryError) as e:
        q.parse_trace_id("xyz")
    assert str(e.value) == 'strconv.ParseUint: parsing "xyz": invalid syntax'
    with pytest.raises(q.QueryError):
        q.parse_trace_id("+1")  # int("+1", 16) would take it; Go does not


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("100ms", 100_000_000),
        ("1.2s", 1_200_000_000),
        ("1h30m", 5_400_000_000_000),
        ("1µs", 1_000),
        ("2us", 2_000),
        ("-3ns", -3),
        ("0", 0),
        (".5ms", 500_000),
    ],
)
def test_durations_are_go_duration_strings(text: str, ns: int) -> None:
    assert q.parse_duration_ns(text) == ns


def test_every_parameter_error_is_jaegers_message() -> None:
    assert _error() == "parameter 'service' is required"
    assert _error(service="s", minDuration="abc") == (
        "unable to parse param 'minDuration': time: invalid duration \"abc\""
    )
    assert _error(service="s", maxDuration="100") == (
        "unable to parse param 'maxDuration': time: missing unit in duration \"100\""
    )
    assert _error(service="s", minDuration="1x") == (
        'unable to parse param \'minDuration\': time: unknown unit "x" in duration "1x"'
    )
    assert _error(service="s", maxDuration="9" * 400 + "h") == (
        f"unable to parse param 'maxDuration': time: invalid duration \"{'9' * 400}h\""
    )
    assert _error(service="s", tags="[" * 100_000).startswith("malformed 'tags' parameter")
    assert _error(service="s", minDuration="2s", maxDuration="1s") == (
        "'maxDuration' should be greater than 'minDuration'"
    )
    assert _error(service="s", start="1h") == (
        "unable to parse param 'start': strconv.ParseInt: parsing \"1h\": invalid syntax"
    )
    assert _error(service="s", limit="ten") == 'strconv.ParseInt: parsing "ten": invalid syntax'
    assert _error(service="s", tag="nocolon") == (
        "malformed 'tag' parameter, expecting key:value, received: nocolon"
    )
    assert _error(service="s", tags="{not json").startswith(
        "malformed 'tags' parameter, cannot unmarshal JSON: "
    )
    assert _error(traceID=["1", "zz"]) == (
        'cannot parse traceID param: strconv.ParseUint: parsing "zz": invalid syntax'
    )
    assert _error(strategy="nope").startswith("unable to parse param 'strategy': must be one of")


def test_defaults_and_blank_values() -> None:
    # Jaeger UI sends `minDuration` and `maxDuration` with no value when they are empty.
    query = _query(service="s", minDuration="", maxDuration="", lookback="1h")
    assert query.limit == 100 and query.min_duration_ns == query.max_duration_ns == 0
    assert query.end_us == T0 + 10_000_000
    assert query.start_us == query.end_us - 48 * 3600 * 1_000_000  # Jaeger's 2-day lookback
    both = _query(service="s", tag="http.route:/a:b", tags='{"k": "v"}')
    assert both.tags == {"http.route": "/a:b", "k": "v"}
    assert _query(traceID=["ABC", "1"]).trace_ids == (0xABC, 1), "no service needed"
    assert _query(strategy="queued").strategy == "queued", "marathon's extension"


def test_one_span_must_satisfy_every_condition() -> None:
    traces = [_request(), _attempt()]
    window = {"start": str(T0), "end": str(T0 + 10_000_000)}

    def found(**params: str) -> list[str]:
        return [t["traceID"] for t in q.search(traces, _query(**{**window, **params}))]

    assert found(service="marathon-api") == [REQUEST_ID]
    assert found(service="resend-sandbox", operation="POST /emails") == [REQUEST_ID]
    # "insert runner" lasts 42 ms, "send confirmation" 402 ms: not one span of both
    assert found(service="marathon-api", operation="insert runner", minDuration="100ms") == []
    assert found(service="marathon-api", operation="send confirmation", minDuration="0.4s") == [
        REQUEST_ID
    ]
    assert found(service="marathon-api", maxDuration="1ms") == []
    assert found(service="marathon-api", tags='{"http.status_code": "201"}') == [REQUEST_ID]
    assert found(service="marathon-api", tag="telemetry.sdk.language:python") == [REQUEST_ID]
    assert found(service="marathon-worker", tags='{"event": "retry"}') == [ATTEMPT_ID], "log"
    assert found(service="marathon-worker", tag="marathon.attempt:1") == [ATTEMPT_ID]
    assert found(service="marathon-api", start=str(T0 + 1)) == [REQUEST_ID], "a later span"
    assert found(service="marathon-api", end=str(T0 - 1)) == []
    assert found(strategy="wait-until") == [REQUEST_ID]
    assert found(strategy="queued") == []


def test_newest_first_and_the_limit_keeps_the_newest() -> None:
    later = _attempt(T0 + 5_000_000)
    later["traceID"] = later["spans"][0]["traceID"] = "0" * 31 + "2"
    traces = [_attempt(), later]
    query = _query(service="marathon-worker", start=str(T0), end=str(T0 + 9_000_000))
    assert [t["traceID"] for t in q.search(traces, query)] == [later["traceID"], ATTEMPT_ID]
    one = _query(service="marathon-worker", start=str(T0), end=str(T0 + 9_000_000), limit="1")
    assert [t["traceID"] for t in q.search(traces, one)] == [later["traceID"]]


def test_services_operations_and_dependencies() -> None:
    traces = [_request(), _attempt()]
    assert q.services(traces) == ["marathon-api", "marathon-worker", "resend-sandbox"]
    assert {"name": "POST /api/marathon/wait-until", "spanKind": "server"} in q.operations(
        traces, "marathon-api"
    )
    assert q.operations(traces, "marathon-worker", "consumer") == [
        {"name": "confirmation attempt", "spanKind": "consumer"}
    ]
    assert q.operations(traces, "marathon-worker", "server") == []
    # The link from the attempt crosses traces: not a call. The HTTP client span calls the
    # sandbox's server span: one call.
    deps = q.dependencies(traces, T0 + 10_000_000, 60_000_000)
    assert deps == [{"parent": "marathon-api", "child": "resend-sandbox", "callCount": 1}]
    assert q.dependencies(traces, T0 - 1, 60_000_000) == [], "outside the window"
    assert q.dependencies(traces, T0 + 10_000_000, 60_000_000, "marathon-worker") == []
    end, lookback = q.parse_dependencies_query({"endTs": ["1000"]}, now_us=0)
    assert (end, lookback) == (1_000_000, 24 * 3600 * 1_000_000)  # ms in, µs out; 24 h default
    with pytest.raises(q.QueryError, match=r"^unable to parse param 'lookback': strconv"):
        q.parse_dependencies_query({"lookback": ["1h"]})


def test_attempts_are_found_through_their_links_and_drawn_in_the_model() -> None:
    request, attempt = _request(), _attempt()
    assert q.linked_from([request, attempt], REQUEST_ID.upper()) == [attempt]
    assert q.linked_from([request, attempt], ATTEMPT_ID) == []
    before = copy.deepcopy([request, attempt])
    w = from_jaeger(request, [attempt])
    assert [request, attempt] == before, "each trace's JSON is left whole"
    bar = next(b for b in w.bars if b.name == "confirmation attempt")
    assert bar.linked and bar.parent_id == "a000000000000001" and bar.depth == 1
    assert bar.service == "marathon-worker" and bar.after_response
    # A saved file with the request and its attempt draws one waterfall, attempt inside.
    [saved] = parse({"data": [attempt, request]})
    assert saved == w
