"""What every exercise shares: which answer to test, the real components, and short output.

- A test module names the learner's file (`ANSWER = "strategy.py"`) and asks for the `answer`
  fixture (that file, imported). `--answer FILE` (repeatable) tests other files instead, one run
  per file: the project's proof runs the exemplar, the stub and the known-wrong answers in one
  process (`tests/test_exercises.py`).
- Tests run in task order, per answer, and once a task fails, that answer's later tests are
  skipped: one thing at a time, as on exercism.
- A failure shows its coaching message only (`--tb=long` brings the traceback back), and the
  learner's own exception is one line that points into their file.
- `--report FILE` writes each test's result as JSON, with the trace it recorded:
  `marathon workshop check` reads it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
import sys
import traceback
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

# The repository (marathon and its tests' fixtures); a copy elsewhere sets PYTHONPATH instead.
sys.path.insert(0, str(Path(__file__).parent.parent))

from marathon import knobs
from marathon.local import postgres

# ---------------------------------------------------------------- which answer, in which order


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("workshop")
    group.addoption(
        "--answer",
        action="append",
        default=[],
        metavar="FILE",
        help="test this answer file instead of the exercise's own (repeatable)",
    )
    group.addoption("--report", metavar="FILE", help="write every result as JSON")


def variant(exercise: Path, answer: Path) -> str:
    """A short name for an answer: `exemplar`, `wrong:awaits-email`, or the file's stem."""
    try:
        return answer.relative_to(exercise / ".meta").with_suffix("").as_posix().replace("/", ":")
    except ValueError:
        return answer.stem


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "answer_file" in metafunc.fixturenames:
        exercise = metafunc.definition.path.parent
        given = [Path(a).resolve() for a in metafunc.config.getoption("answer")]
        files = given or [exercise / metafunc.module.ANSWER]
        # Module scope: each answer gets one app for all its tests (the proof runs many answers).
        metafunc.parametrize(
            "answer_file", files, ids=[variant(exercise, f) for f in files], scope="module"
        )


def _task(item: pytest.Item) -> int:
    marker = item.get_closest_marker("task")
    return int(marker.args[0]) if marker else 0


def _answer_of(item: pytest.Item) -> Path | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("answer_file") if callspec else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Per exercise, per answer, in task order (a stable sort keeps each file's own order)."""
    files = [str(_answer_of(i)) for i in items]
    items.sort(key=lambda i: (str(i.path.parent), files.index(str(_answer_of(i))), _task(i)))


_failed_first: dict[tuple[str, str], int] = {}  # (exercise, answer) -> its first failing task


def _key(item: pytest.Item) -> tuple[str, str]:
    return item.path.parent.name, str(_answer_of(item))


def pytest_runtest_setup(item: pytest.Item) -> None:
    failed = _failed_first.get(_key(item))
    if failed is not None:
        pytest.skip(f"task {failed} fails first: one task at a time")


_modules: dict[Path, ModuleType] = {}


@pytest.fixture(scope="module")
def answer(answer_file: Path) -> ModuleType:
    """The answer under test, imported from its file (once per run)."""
    if answer_file not in _modules:
        spec = importlib.util.spec_from_file_location(f"answer{len(_modules)}", answer_file)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _modules[answer_file] = module
    return _modules[answer_file]


# ---------------------------------------------------------------- short, coaching output


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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when == "teardown" or (report.when == "setup" and report.passed):
        return
    answer_file = _answer_of(item)
    message = None
    if report.failed and call.excinfo is not None:
        message = coaching(call.excinfo, answer_file)
        _failed_first.setdefault(_key(item), _task(item))
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
            "task": _task(item),
            "outcome": report.outcome,
            "message": message,
            "trace": traces[-1] if traces else None,
        }
    )


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("report")
    if path:
        Path(path).write_text(json.dumps(_results, indent=1))


def record_trace(item: pytest.Item, spans: Any) -> None:
    """Keep a test's trace (Jaeger JSON) for `marathon workshop check` to draw."""
    from marathon.tracing import jaeger_json

    item.user_properties.append(("trace", jaeger_json.trace_from_spans(spans)))


# ---------------------------------------------------------------- real components
# (imported when a test needs them: the exercises without a server start quickly)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def default_knobs() -> Iterator[None]:
    knobs.set_defaults(knobs.Knobs())
    yield
    knobs.set_defaults(knobs.Knobs())


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An embedded PostgreSQL for this run, or the one the caller shares (the project's proof
    runs many answers and starts PostgreSQL once)."""
    shared = os.environ.get("MARATHON_EXERCISE_DATABASE_URL")
    if shared:
        yield shared
        return

    with postgres.embedded_server(tmp_path_factory.mktemp("pg") / "data", ephemeral=True) as url:
        yield url


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Any]:
    from marathon.local.sandbox import create_sandbox
    from marathon.local.stack import ThreadedServer

    with ThreadedServer(create_sandbox(defaults=knobs.Knobs())) as server:
        yield server


def _handled() -> tuple[type[BaseException], ...]:
    """The app's own answers to a failure (409, 503): not the learner's bug."""
    from marathon.background import BackgroundFull
    from marathon.service.db import DatabaseUnavailable, DuplicateRunner
    from marathon.service.queue import QueueUnavailable

    return (DuplicateRunner, DatabaseUnavailable, QueueUnavailable, BackgroundFull)


@dataclasses.dataclass
class Registration:
    response: httpx.Response
    trace: Any  # tests.conftest.Trace
    runner_id: str

    def spans(self, name: str) -> list[Any]:
        return [s for s in self.trace.spans if s.name == name]


class Endpoint:
    """The learner's strategy, mounted as `POST /api/marathon/exercise` on the real app."""

    def __init__(self, answer_file: Path) -> None:
        self.answer_file = answer_file
        self.client: httpx.AsyncClient
        self.item: pytest.Item
        self.raised: list[BaseException] = []

    def watch(self, strategy: Any) -> Any:
        """Catch the learner's own exception before the app turns it into a bare 500."""
        handled = _handled()

        async def watched(work: Any, runner: Any) -> int:
            try:
                status = await strategy(work, runner)
            except handled:
                raise
            except Exception as exc:
                self.raised.append(exc)
                raise
            if not isinstance(status, int):
                exc = TypeError(f"your function returned {status!r}: return the status code")
                self.raised.append(exc)
                raise exc
            return status

        return watched

    async def register(self, knob_header: str, *, expect: int, why: str) -> Registration:
        """Register a fictional runner; fail with the learner's error or a coaching message
        unless the endpoint answers `expect`."""
        from marathon import tracing
        from marathon.service import fake
        from tests.conftest import settled, trace_id_of

        self.raised.clear()
        r = await self.client.post(
            "/api/marathon/exercise", json=fake.runner(), headers={"Marathon-Knobs": knob_header}
        )
        trace = await settled(trace_id_of(r))
        record_trace(self.item, trace.spans)
        if r.status_code != expect:
            if self.raised:
                pytest.fail(learner_error(self.raised[0], self.answer_file), pytrace=False)
            pytest.fail(
                f"Called POST /api/marathon/exercise. The endpoint answered {r.status_code}, but "
                f"the tests expected {expect}: {why}",
                pytrace=False,
            )
        runner_id = str((trace.server.attributes or {})[tracing.RUNNER_ATTR])
        return Registration(r, trace, runner_id)


@pytest.fixture(scope="module")
async def _mounted(
    strategy: Any, pg_url: str, sandbox: Any, answer_file: Path, tmp_path_factory: Any
) -> AsyncIterator[Endpoint]:
    from marathon.app import create_app
    from marathon.service.settings import Settings

    settings = Settings(
        database_url=pg_url,
        resend_api_url=sandbox.url,
        email_sandbox=True,
        data_dir=tmp_path_factory.mktemp("data"),
        worker_in_process=False,  # exercise 05 looks at the job, not at its delivery
    )
    mounted = Endpoint(answer_file)
    app = create_app(settings, strategies={"exercise": mounted.watch(strategy)})
    transport = httpx.ASGITransport(app=app)
    async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        mounted.client = c
        yield mounted


@pytest.fixture
def endpoint(_mounted: Endpoint, request: pytest.FixtureRequest) -> Endpoint:
    """The app with the learner's function (each test module's `strategy` fixture) mounted."""
    _mounted.item = request.node
    return _mounted


def ms(value: float, *, ns: bool = False) -> str:
    """Times for humans: `312 ms`, never a nanosecond integer."""
    return f"{value / 1e6 if ns else value * 1000:,.0f} ms"
