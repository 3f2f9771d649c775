"""Short, coaching output, and the results `marathon workshop check` reads.

- A failure shows its coaching message only (`--tb=long` brings the traceback back), and the
  learner's own exception is one line that points into their file.
- `--report FILE` writes each test's result as JSON, with the trace it recorded
  (`record_trace`): the coach draws that waterfall.
"""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from marathon.lab.exercises.answers import answer_of, failed, task, variant

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

__all__ = [
    "coaching",
    "learner_error",
    "pytest_addoption",
    "pytest_runtest_makereport",
    "pytest_sessionfinish",
    "record_trace",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("workshop").addoption(
        "--report", metavar="FILE", help="write every result as JSON"
    )


def learner_error(exc: BaseException, answer_file: Path | None) -> str:
    """An exception as one line; when it left the learner's file, the line it left from."""
    # One line, without memory addresses ("<function f at 0x7f...>" says nothing to a learner).
    text = re.sub(r" at 0x[0-9a-f]+>", ">", str(exc)).strip().splitlines()
    what = type(exc).__name__ + (f": {text[0]}" if text else "")
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename) == answer_file:
        where = f"{answer_file.name}, line {exc.lineno}"
        return f"Your code raised {type(exc).__name__}: {exc.msg} ({where})"
    mine = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if answer_file and Path(f.filename) == answer_file
    ]
    if mine and answer_file:
        return (
            f"Your code raised {what} ({answer_file.name}, line {mine[-1].lineno}: {mine[-1].line})"
        )
    if isinstance(exc, TypeError | AttributeError | NameError):  # misuse of the API, likely
        return f"Your code raised {what}"
    return f"The exercise could not run: {what}"


def coaching(excinfo: pytest.ExceptionInfo[BaseException], answer_file: Path | None) -> str:
    exc = excinfo.value
    if isinstance(exc, pytest.fail.Exception):
        return str(exc.msg)
    if isinstance(exc, AssertionError):
        # Drop pytest's introspection ("assert ... where ..."): the message says it better.
        return str(exc).split("\nassert ")[0].strip() or "An assertion failed."
    return learner_error(exc, answer_file)


_results: list[dict[str, Any]] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "teardown" or (report.when == "setup" and report.passed):
        return report
    answer_file = answer_of(item)
    message = None
    if report.failed and call.excinfo is not None:
        message = coaching(call.excinfo, answer_file)
        failed(item)
        if item.config.option.tbstyle == "auto":
            report.longrepr = message
            report.sections = []  # captured logs: the app's view of the same mistake
    traces = [v for k, v in item.user_properties if k == "trace"]
    _results.append(
        {
            "exercise": item.path.parent.name,
            "answer": str(answer_file),
            "variant": variant(item.path.parent, answer_file) if answer_file else None,
            "test": item.name,
            "task": task(item),
            "outcome": report.outcome,
            "message": message,
            "trace": traces[-1] if traces else None,
        }
    )
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("report")
    if path:
        Path(path).write_text(json.dumps(_results, indent=1))


def record_trace(item: pytest.Item, spans: Iterable[ReadableSpan]) -> None:
    """Keep a test's trace (Jaeger JSON) for `marathon workshop check` to draw."""
    from marathon.tracing import jaeger_json

    item.user_properties.append(("trace", jaeger_json.trace_from_spans(spans)))
