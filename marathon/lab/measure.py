"""Register one runner with a strategy and find out what really happened, from the outside.

Everything comes from the API over HTTP (the response, its trace, the registration's status),
so the same code measures an embedded stack or any running server (`--url`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
from opentelemetry.instrumentation.utils import suppress_instrumentation

from marathon import outcomes, tracing
from marathon.service import fake
from marathon.service.confirmations import FINAL

__all__ = ["Measurement", "observe", "post", "register"]


@dataclass
class Measurement:
    strategy: str
    status: int
    client_ms: float  # what the client waited for the response
    runner_id: str | None = None
    trace_id: str | None = None
    server_ms: float | None = None  # the server span: until the response's last byte
    settled_ms: float | None = None  # from the request until every span of the trace ended
    stored: bool | None = None
    delivered: bool | None = None
    error: str | None = None  # the first failure in the trace, or the HTTP error
    detail: str | None = None  # the response's error detail, if any
    logged: bool = False  # a background failure was logged (wait_until reports what it runs)
    email_state: str | None = None  # a queued confirmation: sent, dead, retrying...
    attempts: int | None = None  # a queued confirmation's attempts
    trace: dict[str, Any] | None = field(default=None, repr=False)
    # A queued job's attempts: traces of their own, linked to the request (each one whole).
    attempt_traces: list[dict[str, Any]] = field(default_factory=list, repr=False)
    # Last, so that positional construction keeps its meaning.
    emails_sent: int | None = None  # emails in the outbox for it (None: real Resend)

    def outcome(self) -> outcomes.Outcome:
        return outcomes.Outcome(
            self.status, self.stored, self.delivered, self.emails_sent, self.logged, self.error
        )

    def as_dict(self, *, with_trace: bool = False) -> dict[str, Any]:
        d = asdict(self)
        if not with_trace:
            d.pop("trace")
            d.pop("attempt_traces")
        return d


def _trace_id(traceresponse: str | None) -> str | None:
    parts = (traceresponse or "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def _settled_trace(
    client: httpx.Client, trace_id: str, timeout: float
) -> tuple[dict[str, Any] | None, bool]:
    """Poll until no span of the trace is running (seen twice, 50 ms apart) or `timeout`."""
    deadline = time.monotonic() + timeout
    quiet, doc = 0, None
    while time.monotonic() < deadline:
        r = client.get(f"/api/traces/{trace_id}")
        if r.status_code == 200:
            doc = r.json()["data"][0]
            quiet = quiet + 1 if r.headers.get(tracing.RUNNING_HEADER) == "0" else 0
            if quiet >= 2:
                return doc, True
        time.sleep(0.05)
    return doc, False


def _summarise(m: Measurement, trace: dict[str, Any], attempts: list[dict[str, Any]]) -> None:
    server = next(
        (s for s in trace["spans"] if any(t["key"] == tracing.STRATEGY_ATTR for t in s["tags"])),
        None,
    )
    if server is None:
        return
    # Process ids are per trace: name each span's service through its own trace.
    service = {
        id(s): t["processes"][s["processID"]]["serviceName"]
        for t in (trace, *attempts)
        for s in t["spans"]
    }
    spans = [s for t in (trace, *attempts) for s in t["spans"]]
    tags = {t["key"]: t["value"] for t in server["tags"]}
    m.runner_id = m.runner_id or tags.get(tracing.RUNNER_ATTR)
    m.server_ms = server["duration"] / 1000
    end = max(s["startTime"] + s["duration"] for s in spans)
    m.settled_ms = (end - server["startTime"]) / 1000
    # The app's own first failure with a reason: the other service's view of the same event
    # (the sandbox seeing a hang-up) may end a moment sooner, and HTTP spans carry no reason.
    ours = service[id(server)]
    failures = []
    for s in spans:
        tags = {t["key"]: t["value"] for t in s["tags"]}
        if tags.get("otel.status_code") == "ERROR" and s is not server:
            reason = tags.get("otel.status_description")
            rank = (service[id(s)] != ours, reason is None, s["startTime"] + s["duration"])
            failures.append((*rank, s["operationName"], reason))
    if failures:
        *_, name, reason = min(failures)
        m.error = f"{name}: {reason or 'error'}"


def post(
    client: httpx.Client,
    strategy: str,
    *,
    body: dict[str, Any] | None = None,
    knobs_header: str | None = None,
) -> Measurement:
    """POST one registration and time it; nothing more."""
    headers = {"Marathon-Knobs": knobs_header} if knobs_header else {}
    with suppress_instrumentation():  # the measuring client is not part of the trace
        start = time.perf_counter()
        r = client.post(f"/api/marathon/{strategy}", json=body or fake.runner(), headers=headers)
    m = Measurement(strategy, r.status_code, (time.perf_counter() - start) * 1000)
    payload = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
    m.runner_id = payload.get("id") or (payload.get("extra") or {}).get("id")
    if r.status_code >= 400:
        m.detail = payload.get("detail")
    m.trace_id = _trace_id(r.headers.get("traceresponse"))
    return m


def observe(
    client: httpx.Client, m: Measurement, *, settle_timeout: float = 15, await_job: bool = True
) -> Measurement:
    """Wait for the registration's work to settle, then read what really happened.

    For a queued registration that means its job too: until the confirmation is sent or dead,
    then its attempts' traces (linked to the request), kept beside the request's.
    """
    deadline = time.monotonic() + settle_timeout
    with suppress_instrumentation():
        if m.trace_id:
            m.trace, settled = _settled_trace(client, m.trace_id, settle_timeout)
            if not settled:
                m.settled_ms = None
        status: dict[str, Any] = {}
        if m.runner_id:
            status = client.get(f"/api/registrations/{m.runner_id}").json()
            while (
                await_job
                and status["email"].get("state") not in (None, *FINAL)
                and time.monotonic() < deadline
            ):
                time.sleep(0.1)
                status = client.get(f"/api/registrations/{m.runner_id}").json()
            if m.trace_id and status["email"].get("state") is not None:
                # A queued job's next attempt starts after a backoff, when no span is running:
                # the trace looked settled before it. Settled again once the job is final (its
                # attempts are the request's children under queue_trace_model=child).
                m.trace = _settled_trace(client, m.trace_id, settle_timeout)[0] or m.trace
            m.stored, m.delivered = status["stored"], status["email"]["delivered"]
            m.emails_sent = status["email"].get("sent")
            m.email_state = status["email"].get("state")
            m.attempts = status["email"].get("attempts")
        attempts = [t for t in status.get("trace_ids", {}).get("attempts", []) if t != m.trace_id]
        if m.trace and attempts:
            linked = [_settled_trace(client, t, 5)[0] for t in attempts]
            m.attempt_traces = [t for t in linked if t]
        if m.trace:
            _summarise(m, m.trace, m.attempt_traces)
    return m


def background_failures(client: httpx.Client) -> int:
    with suppress_instrumentation():
        return int(client.get("/api/background").json()["failed"])


def register(
    client: httpx.Client,
    strategy: str,
    *,
    body: dict[str, Any] | None = None,
    knobs_header: str | None = None,
    settle_timeout: float = 15,
    await_job: bool = True,
) -> Measurement:
    """POST one registration, wait for its background work to settle, check the outcome."""
    failures = background_failures(client)
    m = post(client, strategy, body=body, knobs_header=knobs_header)
    observe(client, m, settle_timeout=settle_timeout, await_job=await_job)
    m.logged = background_failures(client) > failures
    return m
