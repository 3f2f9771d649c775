"""The learner's strategy, mounted as `POST /api/marathon/exercise` on the real app (in-process,
with its lifespan, on the test's event loop), and the coaching that a registration gives.

The app and its tracing are imported when a test asks for the endpoint: the exercises without a
server start quickly."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from marathon.lab.exercises.report import learner_error, record_trace

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

    from marathon.background import Background
    from marathon.lab.exercises.observed import Trace
    from marathon.local.stack import ThreadedServer
    from marathon.registration import Runner
    from marathon.strategies import Strategy, Work

__all__ = ["Endpoint", "Registration", "endpoint", "mounted", "ms"]


def _handled() -> tuple[type[BaseException], ...]:
    """The app's own answers to a failure (409, 503): not the learner's bug."""
    from marathon.background import BackgroundFull
    from marathon.service.db import DatabaseUnavailable, DuplicateRunner
    from marathon.service.queue import QueueUnavailable

    return (DuplicateRunner, DatabaseUnavailable, QueueUnavailable, BackgroundFull)


@dataclasses.dataclass
class Registration:
    response: httpx.Response
    trace: Trace
    runner_id: str
    # The tasks the answer started that the app does not own: for each, whether something
    # holds it (a set, a list, a variable) when the strategy returns.
    unowned: list[bool]
    # With `register(drain=True)`: how many of its spans still ran once the app had drained its
    # owned work, as at shutdown (work the app does not own is not waited for).
    running_after_drain: int | None = None

    def spans(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.trace.spans if s.name == name]


class Endpoint:
    """The learner's strategy on the app; `register` makes one request and coaches on it."""

    def __init__(self, answer_file: Path) -> None:
        self.answer_file = answer_file
        self.client: httpx.AsyncClient
        self.item: pytest.Item
        self.background: Background
        self.raised: list[BaseException] = []
        self.unowned: list[bool] = []

    def _unowned_since(self, before: set[int], work: Work) -> list[bool]:
        """The answer's own tasks (running the email or code of its file) that the app does not
        own, and for each, whether anything but the event loop (whose references are weak)
        holds it."""
        from marathon import lifecycle

        email = getattr(work.confirm, "__code__", None)

        def answers(task: asyncio.Task[Any]) -> bool:
            code = getattr(task.get_coro(), "cr_code", None)
            return code is not None and (code is email or code.co_filename == str(self.answer_file))

        mine = [
            t
            for t in asyncio.all_tasks()
            if id(t) not in before and not self.background.owns(t) and answers(t)
        ]
        ours = (mine, lifecycle.request_tasks())  # the app records a request's tasks too
        holders = (set, list, dict, tuple)
        return [
            any(
                isinstance(r, holders) and all(r is not o for o in ours)
                for r in gc.get_referrers(t)
            )
            for t in mine
        ]

    def watch(self, strategy: Strategy) -> Strategy:
        """Catch the learner's own exception before the app turns it into a bare 500."""
        handled = _handled()

        async def watched(work: Work, runner: Runner) -> int:
            before = {id(t) for t in asyncio.all_tasks()}
            try:
                status = await strategy(work, runner)
                self.unowned = self._unowned_since(before, work)
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

    async def register(
        self, knob_header: str, *, expect: int, why: str, drain: bool = False
    ) -> Registration:
        """Register a fictional runner; fail with the learner's error or a coaching message
        unless the endpoint answers `expect`. `drain`: drain the app's owned work first, as
        shutdown would, and count the spans still running then."""
        from marathon import tracing
        from marathon.lab.exercises.observed import settled, trace_id_of
        from marathon.service import fake

        self.raised.clear()
        self.unowned = []
        r = await self.client.post(
            "/api/marathon/exercise", json=fake.runner(), headers={"Marathon-Knobs": knob_header}
        )
        running = None
        if drain:
            await self.background.drain(grace_s=30)
            running = tracing.STORE.running(trace_id_of(r))
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
        return Registration(r, trace, runner_id, list(self.unowned), running)


@pytest.fixture(scope="module")
async def mounted(
    strategy: Strategy,
    pg_url: str,
    sandbox: ThreadedServer,
    answer_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Endpoint]:
    """One app per answer (module scope), with the test module's `strategy` fixture mounted."""
    from marathon.app import create_app
    from marathon.service.settings import Settings

    settings = Settings(
        database_url=pg_url,
        resend_api_url=sandbox.url,
        email_sandbox=True,
        data_dir=tmp_path_factory.mktemp("data"),
        worker_in_process=False,  # exercise 05 looks at the job, not at its delivery
    )
    endpoint = Endpoint(answer_file)
    app = create_app(settings, strategies={"exercise": endpoint.watch(strategy)})
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # Litestar's narrower ASGI types
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c,
    ):
        endpoint.client, endpoint.background = c, app.state.background
        yield endpoint


@pytest.fixture
def endpoint(mounted: Endpoint, request: pytest.FixtureRequest) -> Endpoint:
    """The app with the learner's function mounted, recording traces for this test."""
    mounted.item = request.node
    return mounted


def ms(value: float, *, ns: bool = False) -> str:
    """Times for humans: `312 ms`, never a nanosecond integer."""
    return f"{value / 1e6 if ns else value * 1000:,.0f} ms"
