"""Jaeger's HTTP query API, its semantics: parameters, searches, services, dependencies.

Pure functions over traces in Jaeger's JSON shape (`marathon.tracing.jaeger_json`), so the app
serves them from its in-process store and the command line applies them to files. The reference is
Jaeger's own query service (v2.10, `cmd/query/app`: `query_parser.go`, `http_handler.go`, and
its in-memory store's matching rules); the error messages are Jaeger's, word for word, because
Jaeger UI shows them as they come.

Search semantics (Jaeger's memory store): a trace matches when ONE of its spans satisfies every
condition at once (service, operation, start in [start, end], duration in [min, max], every tag,
looked up in the span's tags, its process's tags and its log fields, compared as strings).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_LIMIT",
    "QueryError",
    "TraceQuery",
    "dependencies",
    "jaeger_id",
    "linked_from",
    "operations",
    "parse_dependencies_query",
    "parse_duration_ns",
    "parse_trace_id",
    "parse_trace_query",
    "search",
    "services",
    "start_us",
]

DEFAULT_LIMIT = 100  # Jaeger's defaultQueryLimit
DEFAULT_LOOKBACK_US = 2 * 24 * 3600 * 1_000_000  # defaultTraceQueryLookbackDuration: 48 h
DEFAULT_DEPENDENCY_LOOKBACK_US = 24 * 3600 * 1_000_000  # defaultDependencyLookbackDuration
SERVICE_REQUIRED = "parameter 'service' is required"
TRACE_NOT_FOUND = "trace not found"
STRATEGY_TAG = "marathon.strategy"
_GO_BOOLS = {"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"}


class QueryError(ValueError):
    """A bad parameter; the message is the one Jaeger answers with (code 400)."""


Params = Mapping[str, Sequence[str]]


def _first(params: Params, name: str) -> str:
    """Go's `r.FormValue`: the first value, "" when absent (and "" means "not given")."""
    values = params.get(name) or [""]
    return values[0]


def _parse_int(text: str, bits: int = 64) -> int:
    """Go's `strconv.ParseInt(text, 10, bits)`, its error messages included."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise QueryError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    value = int(text)
    if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
        raise QueryError(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


def _param_error(name: str, error: QueryError) -> QueryError:
    return QueryError(f"unable to parse param '{name}': {error}")


def parse_trace_id(text: str) -> int:
    """Jaeger's `TraceIDFromString`: 1 to 32 hex digits in any case; shorter ids are the low
    digits of a 128-bit id (left-padded with zeros)."""
    if len(text) > 32:
        raise QueryError(f"TraceID cannot be longer than 32 hex characters: {text}")
    for part in (text[:-16], text[-16:]) if len(text) > 16 else (text,):
        if not re.fullmatch(r"[0-9a-fA-F]+", part):
            raise QueryError(f'strconv.ParseUint: parsing "{part}": invalid syntax')
    return int(text, 16)


def jaeger_id(trace_id: int) -> str:
    """A trace id as Jaeger writes it (`TraceID.String()`): 16 hex digits when the high half is
    zero, else 32."""
    return f"{trace_id:016x}" if trace_id < 2**64 else f"{trace_id:032x}"


_UNITS_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000}
_UNITS_NS |= {"s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}


def parse_duration_ns(text: str) -> int:
    """Go's `time.ParseDuration` ("100ms", "1.5s", "1h30m", "-2us"), in nanoseconds."""
    quoted = json.dumps(text, ensure_ascii=False)
    rest, sign = text, 1
    if rest[:1] in ("+", "-"):
        sign, rest = (-1 if rest[0] == "-" else 1), rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise QueryError(f"time: invalid duration {quoted}")
    total = 0.0
    while rest:
        number = re.match(r"([0-9]*)(?:\.([0-9]*))?", rest)
        assert number is not None  # the pattern matches the empty string
        whole, fraction = number.group(1), number.group(2)
        if not whole and not fraction:
            raise QueryError(f"time: invalid duration {quoted}")
        rest = rest[number.end() :]
        unit = re.match(r"[^0-9.]+", rest)
        if unit is None:
            raise QueryError(f"time: missing unit in duration {quoted}")
        if unit.group() not in _UNITS_NS:
            raise QueryError(f'time: unknown unit "{unit.group()}" in duration {quoted}')
        rest = rest[unit.end() :]
        total += float(f"{whole or 0}.{fraction or 0}") * _UNITS_NS[unit.group()]
        if total >= 2**63:  # Go's int64 nanoseconds overflow: about 292 years
            raise QueryError(f"time: invalid duration {quoted}")
    return sign * round(total)


@dataclass(frozen=True)
class TraceQuery:
    """`GET /api/traces`'s parameters, parsed as Jaeger parses them."""

    service: str = ""
    operation: str = ""
    start_us: int = 0
    end_us: int = 0
    limit: int = DEFAULT_LIMIT  # <= 0: no limit, as in Jaeger
    min_duration_ns: int = 0  # 0: not given
    max_duration_ns: int = 0
    tags: dict[str, str] = field(default_factory=dict)
    trace_ids: tuple[int, ...] = ()
    strategy: str = ""  # marathon's extension: only registrations of this strategy


def _parse_time_us(params: Params, name: str, default_us: int, unit_us: int) -> int:
    text = _first(params, name)
    if not text:
        return default_us
    try:
        return _parse_int(text) * unit_us
    except QueryError as e:
        raise _param_error(name, e) from None


def _parse_tags(simple: Sequence[str], as_json: Sequence[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for tag in simple:  # tag=key:value (the value may hold colons)
        key, colon, value = tag.partition(":")
        if not colon:
            raise QueryError(f"malformed 'tag' parameter, expecting key:value, received: {tag}")
        tags[key] = value
    for doc in as_json:  # tags={"key": "value", ...}, what Jaeger UI sends
        try:
            parsed = json.loads(doc)
        except (ValueError, RecursionError) as e:
            raise QueryError(f"malformed 'tags' parameter, cannot unmarshal JSON: {e}") from None
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            raise QueryError(
                "malformed 'tags' parameter, cannot unmarshal JSON: "
                "expected an object of string values"
            )
        tags.update(parsed)
    return tags


def parse_trace_query(
    params: Params, *, now_us: int | None = None, strategies: Iterable[str] = ()
) -> TraceQuery:
    """Jaeger's `parseTraceQueryParams` (+ `strategy`, checked against `strategies`)."""
    now = now_us if now_us is not None else time.time_ns() // 1000
    start = _parse_time_us(params, "start", now - DEFAULT_LOOKBACK_US, 1)
    end = _parse_time_us(params, "end", now, 1)
    tags = _parse_tags(params.get("tag", []), params.get("tags", []))
    limit = DEFAULT_LIMIT
    if _first(params, "limit"):
        limit = _parse_int(_first(params, "limit"), 32)  # Jaeger does not wrap this one
    durations = []
    for name in ("minDuration", "maxDuration"):
        text = _first(params, name)
        try:
            durations.append(parse_duration_ns(text) if text else 0)
        except QueryError as e:
            raise _param_error(name, e) from None
    ids = []
    for text in params.get("traceID", []):
        try:
            ids.append(parse_trace_id(text))
        except QueryError as e:
            raise QueryError(f"cannot parse traceID param: {e}") from None
    raw = _first(params, "raw")  # accepted; our traces are never adjusted anyway
    if raw and raw not in _GO_BOOLS:
        raise QueryError(
            f"unable to parse param 'raw': strconv.ParseBool: parsing \"{raw}\": invalid syntax"
        )
    strategy = _first(params, "strategy")
    allowed = list(strategies)
    if strategy and strategy not in allowed:
        raise QueryError(f"unable to parse param 'strategy': must be one of {', '.join(allowed)}")
    query = TraceQuery(
        service=_first(params, "service"),
        operation=_first(params, "operation"),
        start_us=start,
        end_us=end,
        limit=limit,
        min_duration_ns=durations[0],
        max_duration_ns=durations[1],
        tags=tags,
        trace_ids=tuple(ids),
        strategy=strategy,
    )
    # Jaeger's validateQuery; `strategy` alone is enough for marathon's own listing.
    if not query.trace_ids and not query.service and not query.strategy:
        raise QueryError(SERVICE_REQUIRED)
    both = query.min_duration_ns and query.max_duration_ns
    if both and query.max_duration_ns < query.min_duration_ns:
        raise QueryError("'maxDuration' should be greater than 'minDuration'")
    return query


def _as_string(value: Any) -> str:
    """Jaeger's `KeyValue.AsString()`: how a tag compares with a query's string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, ".10g")
    return str(value)


def _service(trace: dict[str, Any], span: dict[str, Any]) -> str:
    process = (trace.get("processes") or {}).get(span.get("processID")) or span.get("process")
    return str((process or {}).get("serviceName", ""))


def _kind(span: dict[str, Any]) -> str:
    return next((str(t["value"]) for t in span.get("tags") or [] if t["key"] == "span.kind"), "")


def _flat_tags(trace: dict[str, Any], span: dict[str, Any]) -> list[tuple[str, str]]:
    process = (trace.get("processes") or {}).get(span.get("processID")) or {}
    tags = [*(span.get("tags") or []), *(process.get("tags") or [])]
    for log in span.get("logs") or []:
        tags.extend(log.get("fields") or [])
    return [(t["key"], _as_string(t["value"])) for t in tags]


def _span_matches(trace: dict[str, Any], span: dict[str, Any], q: TraceQuery) -> bool:
    if q.service and _service(trace, span) != q.service:
        return False
    if q.operation and span["operationName"] != q.operation:
        return False
    duration_ns = span["duration"] * 1000
    if q.min_duration_ns and duration_ns < q.min_duration_ns:
        return False
    if q.max_duration_ns and duration_ns > q.max_duration_ns:
        return False
    if not q.start_us <= span["startTime"] <= q.end_us:
        return False
    flat = _flat_tags(trace, span) if q.tags else []
    return all((k, v) in flat for k, v in q.tags.items())


def _strategy_of(trace: dict[str, Any]) -> set[str]:
    return {
        str(t["value"])
        for s in trace["spans"]
        for t in s.get("tags") or []
        if t["key"] == STRATEGY_TAG
    }


def start_us(trace: dict[str, Any]) -> int:
    return min((int(s["startTime"]) for s in trace["spans"]), default=0)


def search(traces: Iterable[dict[str, Any]], q: TraceQuery) -> list[dict[str, Any]]:
    """The traces `q` finds (not by id), newest first, at most `q.limit` of them."""
    found = [
        t
        for t in traces
        if t["spans"]
        and (not q.strategy or q.strategy in _strategy_of(t))
        and any(_span_matches(t, s, q) for s in t["spans"])
    ]
    found.sort(key=start_us, reverse=True)
    return found[: q.limit] if q.limit > 0 else found


def services(traces: Iterable[dict[str, Any]]) -> list[str]:
    """Every service with a span in these traces (`GET /api/services`), sorted."""
    return sorted({_service(t, s) for t in traces for s in t["spans"]} - {""})


def operations(
    traces: Iterable[dict[str, Any]], service: str, span_kind: str = ""
) -> list[dict[str, str]]:
    """A service's operations with their span kind (`GET /api/operations`), sorted."""
    found = {
        (s["operationName"], _kind(s))
        for t in traces
        for s in t["spans"]
        if _service(t, s) == service
    }
    return [
        {"name": name, "spanKind": kind}
        for name, kind in sorted(found)
        if not span_kind or kind == span_kind
    ]


def parse_dependencies_query(params: Params, *, now_us: int | None = None) -> tuple[int, int]:
    """`endTs` (ms since the epoch, default now) and `lookback` (ms, default 24 h), in µs."""
    now = now_us if now_us is not None else time.time_ns() // 1000
    end = _parse_time_us(params, "endTs", now, 1000)
    lookback = _parse_time_us(params, "lookback", DEFAULT_DEPENDENCY_LOOKBACK_US, 1000)
    return end, lookback


def _parent_id(span: dict[str, Any]) -> str | None:
    """Jaeger's `ParentSpanID()`: the CHILD_OF reference in the same trace, else FOLLOWS_FROM."""
    refs = [r for r in span.get("references") or [] if r["traceID"] == span["traceID"]]
    for kind in ("CHILD_OF", "FOLLOWS_FROM"):
        for ref in refs:
            if ref["refType"] == kind:
                return str(ref["spanID"])
    return None


def dependencies(
    traces: Iterable[dict[str, Any]], end_us: int, lookback_us: int, service: str = ""
) -> list[dict[str, Any]]:
    """Service-to-service calls: a span whose parent belongs to another service is one call
    (Jaeger's memory store), for traces with a span started in (end - lookback, end)."""
    calls: Counter[tuple[str, str]] = Counter()
    for trace in traces:
        if not any(end_us - lookback_us < s["startTime"] < end_us for s in trace["spans"]):
            continue
        by_id = {s["spanID"]: s for s in trace["spans"]}
        for span in trace["spans"]:
            parent = by_id.get(_parent_id(span) or "")
            if parent is None:
                continue
            caller, callee = _service(trace, parent), _service(trace, span)
            if caller != callee:
                calls[caller, callee] += 1
    return [
        {"parent": parent, "child": child, "callCount": count}
        for (parent, child), count in sorted(calls.items())
        if not service or service in (parent, child)
    ]


def linked_from(traces: Iterable[dict[str, Any]], trace_id: str) -> list[dict[str, Any]]:
    """The other traces with a span linked (FOLLOWS_FROM) to a span of `trace_id`: a queued
    job's attempts, found as a Jaeger user finds them. Oldest first."""
    wanted = trace_id.lower().rjust(32, "0")
    found = [
        t
        for t in traces
        if t["traceID"].rjust(32, "0") != wanted
        and any(
            r["refType"] == "FOLLOWS_FROM" and r["traceID"].rjust(32, "0") == wanted
            for s in t["spans"]
            for r in s.get("references") or []
        )
    ]
    return sorted(found, key=start_us)
