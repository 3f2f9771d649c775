"""`MARATHON_EVENT_LOOP`: uvloop unless told otherwise, and the lesson's asyncio behaviour on it."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from marathon import lifecycle, tracing
from marathon.local import event_loop


def test_auto_takes_uvloop_and_asyncio_declines_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(event_loop.VARIABLE, raising=False)
    assert event_loop.choice() == "auto"
    assert event_loop.run(_loop_type()) is uvloop.Loop
    monkeypatch.setenv(event_loop.VARIABLE, "asyncio")
    assert event_loop.run(_loop_type()) is not uvloop.Loop


def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(event_loop.VARIABLE, "trio")
    with pytest.raises(ValueError, match="MARATHON_EVENT_LOOP must be auto, uvloop or asyncio"):
        event_loop.choice()


async def _loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_on_uvloop_the_request_scope_sees_every_task_and_who_owns_it() -> None:
    """What the ownership marks and the serverless lesson rely on: the task factory, with and
    without an explicit context."""

    async def owner() -> str:
        return tracing.current_owner()

    async def main() -> tuple[int, str, str]:
        lifecycle.install_task_factory(asyncio.get_running_loop())
        with lifecycle.request_scope() as started:
            bare = asyncio.create_task(owner())
            context = tracing.owned_by("wait_until", lifecycle.outside_scope())
            owned = asyncio.create_task(owner(), context=context)
        return len(started), await bare, await owned

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(main()) == (2, "nobody", "wait_until")
