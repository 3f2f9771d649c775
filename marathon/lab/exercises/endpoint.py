"""The learner's strategy, mounted as `POST /api/marathon/exercise` on the real app (in-process,
with its lifespan, on the test's event loop), and the coaching that a registration gives.

The app and its tracing are imported when a test asks for the endpoint: the exercises without a
server start quickly."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from marathon.lab.exercises.report import learner_error, record_trace

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

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

    def spans(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.trace.spans if s.name == name]


class Endpoint:
    """The learner's strategy on the app; `register` makes one request and coaches on it."""

    def __init__(self, answer_file: Path) -> None:
        self.answer_file = answer_file
        self.client: httpx.AsyncClient
        self.item: pytest.Item
        self.raised: list[BaseException] = []

    def watch(self, strategy: Strategy) -> Strategy:
        """Catch the learner's own exception before the app turns it into a bare 500."""
        handled = _handled()

        async def watched(work: Work, runner: Runner) -> int:
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
        from marathon.lab.exercises.observed import settled, trace_id_of
        from marathon.service import fake

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
        endpoint.client = c
        yield endpoint


@pytest.fixture
def endpoint(mounted: Endpoint, request: pytest.FixtureRequest) -> Endpoint:
    """The app with the learner's function mounted, recording traces for this test."""
    mounted.item = request.node
    return mounted


def ms(value: float, *, ns: bool = False) -> str:
    """Times for humans: `312 ms`, never a nanosecond integer."""
    return f"{value / 1e6 if ns else value * 1000:,.0f} ms"
