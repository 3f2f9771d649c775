"""Tests for exercise 07: span modelling (real OpenTelemetry SDK, spans kept in memory)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from types import ModuleType
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from marathon import registration, tracing
from marathon.lab.exercises.report import record_trace
from marathon.service import fake

pytestmark = pytest.mark.anyio

_exporter = InMemorySpanExporter()
_recording: dict[str, pytest.Item] = {}  # the running test: `marathon workshop check` draws it


@pytest.fixture
def spans(request: pytest.FixtureRequest) -> InMemorySpanExporter:
    tracing.setup("exercise-07")
    # The process's provider, which the spans go to: in `check --all`, an earlier exercise's app
    # has set it already, and `setup` then leaves it in place.
    provider = trace.get_tracer_provider()
    if not getattr(provider, "_exercise_07", False):
        provider.add_span_processor(SimpleSpanProcessor(_exporter))
        provider._exercise_07 = True  # type: ignore[attr-defined]
    _exporter.clear()
    _recording["item"] = request.node
    return _exporter


def _runner() -> registration.Runner:
    runner = registration.parse(fake.runner())
    assert isinstance(runner, registration.Runner)
    return runner


def _places(span: ReadableSpan) -> dict[str, str]:
    """What a span shows: its name, status, attributes and events."""
    places = {"the span's name": span.name, "its status": span.status.description or ""}
    places |= {f"attribute {k!r}": str(v) for k, v in (span.attributes or {}).items()}
    for event in span.events:
        places[f"event {event.name!r}"] = " ".join(map(str, (event.attributes or {}).values()))
    return places


def _leaks(span: ReadableSpan, runner: registration.Runner) -> list[str]:
    """Where the span quotes personal data."""
    personal = [runner.email, runner.first_name, runner.last_name, runner.address]
    places = _places(span)
    return sorted({where for where, text in places.items() if any(p in text for p in personal)})


async def _derived(
    answer: ModuleType, runner: registration.Runner, fail: bool = False
) -> list[str]:
    """Where the span follows the personal data (a hash of the address, a part of it...): the
    same registration twice, then its twin (the same id, another person's data); what stays
    the same for the same data and changes with the data is derived from it."""
    other = _runner()
    twin = dataclasses.replace(
        runner,
        email=other.email,
        first_name=other.first_name,
        last_name=other.last_name,
        address=other.address,
    )
    shown = []
    for r in (runner, runner, twin):
        _exporter.clear()
        await _confirm(answer, r, fail=fail)
        shown.append(_places(_email_spans(_exporter)[0]))
    first, again, changed = shown
    stable = {where for where in first if again.get(where) == first[where]}
    return sorted(where for where in stable if changed.get(where) != first[where])


def _email_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == tracing.EMAIL_SPAN]


async def _confirm(answer: ModuleType, runner: registration.Runner, fail: bool = False) -> Any:
    seen: dict[str, Any] = {}

    async def send(r: registration.Runner) -> str:
        seen["span"] = trace.get_current_span().get_span_context()
        await asyncio.sleep(0.02)  # the email API's round trip
        if fail:
            raise ValueError(f"the email API refused <{r.email}>: mailbox unknown")
        return "email-123"

    with tracing.tracer().start_as_current_span("POST /api/marathon/exercise") as request:
        try:
            seen["result"] = await answer.confirm(runner, send)
        except ValueError as exc:
            seen["raised"] = exc
    seen["request"] = request.get_span_context()
    record_trace(_recording["item"], _exporter.get_finished_spans())
    return seen


@pytest.mark.task(1)
async def test_the_email_call_runs_inside_its_span(
    answer: ModuleType, spans: InMemorySpanExporter
) -> None:
    seen = await _confirm(answer, _runner())
    found = _email_spans(spans)
    assert len(found) == 1, (
        f"Expected one span named {tracing.EMAIL_SPAN!r}, found {len(found)}: start one around "
        "the email call."
    )
    [span] = found
    assert span.context and seen["span"].span_id == span.context.span_id, (
        f"The email call was not inside the span {tracing.EMAIL_SPAN!r}: make it the current "
        "span while you await send(runner), so it measures the call."
    )
    assert span.parent and span.parent.span_id == seen["request"].span_id, (
        "The email span is not a child of the request span that was current."
    )
    assert seen.get("result") == "email-123", "confirm must return what send returned."


@pytest.mark.task(2)
async def test_the_span_names_the_runner_and_nothing_personal(
    answer: ModuleType, spans: InMemorySpanExporter
) -> None:
    runner = _runner()
    await _confirm(answer, runner)
    [span] = _email_spans(spans)
    got = (span.attributes or {}).get(tracing.RUNNER_ATTR)
    assert got == str(runner.id), (
        f"The span's {tracing.RUNNER_ATTR!r} is {got!r}: set it to the runner id, as a string."
    )
    leaks = _leaks(span, runner)
    assert not leaks, (
        f"The span carries personal data ({', '.join(leaks)}): traces are kept and shown. "
        "Identify the registration by its runner id only."
    )
    derived = await _derived(answer, runner)
    assert not derived, (
        f"The span carries data derived from personal data ({', '.join(derived)}: it changes "
        "with the runner's address or name, the id staying the same). A hash of the address, "
        "or a part of it, still points at one person. Identify the registration by its runner "
        "id only."
    )


@pytest.mark.task(3)
async def test_a_failed_email_marks_the_span_without_leaking(
    answer: ModuleType, spans: InMemorySpanExporter
) -> None:
    runner = _runner()
    seen = await _confirm(answer, runner, fail=True)
    assert "raised" in seen, "send raised ValueError, but confirm did not let it through."
    [span] = _email_spans(spans)
    assert span.status.status_code is StatusCode.ERROR, (
        f"The email failed, but its span's status is {span.status.status_code.name}: mark it "
        "failed (status ERROR)."
    )
    leaks = _leaks(span, runner)
    assert not leaks, (
        f"The error message quoted the email address, and the span kept it ({', '.join(leaks)}):"
        " personal data. Record the failure with a scrubbed message."
    )
    derived = await _derived(answer, runner, fail=True)
    assert not derived, (
        f"The failed span carries data derived from personal data ({', '.join(derived)}: it "
        "changes with the runner's address or name). Record the failure with a scrubbed "
        "message, and identify the registration by its runner id only."
    )


@pytest.mark.task(4)
async def test_the_attempt_is_linked_not_parented(
    answer: ModuleType, spans: InMemorySpanExporter
) -> None:
    runner_id = str(uuid.uuid4())
    with tracing.tracer().start_as_current_span("POST /api/marathon/queued") as request_span:
        request = request_span.get_span_context()
        with answer.attempt(request, runner_id):
            pass
    [span] = [s for s in spans.get_finished_spans() if s.name != "POST /api/marathon/queued"]
    assert span.context is not None
    assert span.parent is None and span.context.trace_id != request.trace_id, (
        "The attempt is the request's child, in the request's trace: use a link, not a parent "
        "(start it in a new trace, and link it to the request span)."
    )
    linked = [link.context.span_id for link in span.links]
    assert linked == [request.span_id], (
        f"The attempt has {len(linked)} link(s), but the tests expected one: to the request span."
    )
    assert (span.attributes or {}).get(tracing.RUNNER_ATTR) == runner_id, (
        f"The attempt's {tracing.RUNNER_ATTR!r} should be the runner id."
    )
