"""Tests for exercise 03: a background-task registry (plain asyncio, no server)."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import pytest

pytestmark = pytest.mark.anyio


@pytest.fixture
async def registry(answer: ModuleType) -> AsyncIterator[Any]:
    registry = answer.TaskRegistry()
    spawned: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()  # weak: task 1 checks that
    spawn = registry.spawn

    def spawn_and_remember(coro: Any) -> Any:
        task = spawn(coro)
        spawned.add(task)
        return task

    registry.spawn = spawn_and_remember
    yield registry
    for task in spawned:  # whatever the test left running
        task.cancel()


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """What the event loop reports to its exception handler (e.g. a failing done-callback)."""
    errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda loop, context: errors.append(context))
    yield errors
    loop.set_exception_handler(previous)


async def _waits_on_its_own_future() -> None:
    # Only this frame references the future, and only the future wakes the task: nothing but
    # a strong reference somewhere keeps the pair alive.
    await asyncio.get_running_loop().create_future()


async def _fails() -> None:
    await asyncio.sleep(0.01)
    raise ValueError("the email API said no")


@pytest.mark.task(1)
async def test_a_task_cannot_vanish(registry: Any, loop_errors: list[Any]) -> None:
    task = weakref.ref(registry.spawn(_waits_on_its_own_future()))
    await asyncio.sleep(0.01)
    gc.collect()
    assert task() is not None, (
        "The task vanished: the garbage collector took it mid-flight, because the event loop "
        "keeps only weak references to tasks. Keep a strong one until the task is done."
    )
    assert registry.pending == 1, f"One task is running, but pending says {registry.pending}."


@pytest.mark.task(1)
async def test_a_finished_task_is_forgotten(registry: Any) -> None:
    for _ in range(3):
        registry.spawn(asyncio.sleep(0.01))
    assert registry.pending == 3, f"Three tasks are running, but pending says {registry.pending}."
    await asyncio.sleep(0.1)
    assert registry.pending == 0, (
        f"All three tasks are done, but pending says {registry.pending}: A finished task is "
        "still in your registry (it grows forever). Remove each task when it is done."
    )


@pytest.mark.task(2)
async def test_a_failure_is_observed(registry: Any) -> None:
    registry.spawn(_fails())
    await asyncio.sleep(0.1)
    assert [str(e) for e in registry.failures] == ["the email API said no"], (
        f"A task raised ValueError, but failures is {registry.failures!r}: nobody saw it fail. "
        "Look at each task when it is done and keep its exception."
    )


@pytest.mark.task(2)
async def test_a_cancellation_is_not_a_failure(registry: Any, loop_errors: list[Any]) -> None:
    registry.spawn(asyncio.sleep(10)).cancel()
    await asyncio.sleep(0.05)
    raised = [c.get("exception") for c in loop_errors]
    assert not raised and not registry.failures, (
        f"A task was cancelled, and your registry reported {raised or registry.failures!r}: a "
        "cancelled task is not a failure (and asking it for its exception raises)."
    )
    assert registry.pending == 0, "The cancelled task is still pending."


@pytest.mark.task(3)
async def test_drain_waits_then_cancels(registry: Any) -> None:
    quick = registry.spawn(asyncio.sleep(0.05))
    slow = registry.spawn(asyncio.sleep(10))
    start = time.monotonic()
    try:
        report = await asyncio.wait_for(registry.drain(1.0), timeout=5)
    except TimeoutError:
        pytest.fail(
            "drain(1.0) had not returned after 5 s: after the grace period, cancel what is left.",
            pytrace=False,
        )
    took = time.monotonic() - start
    assert not quick.cancelled(), (
        "drain cancelled a task that would have finished within the grace period (50 ms of "
        "1 s): wait first, cancel only what is still running when the time is up."
    )
    assert slow.cancelled(), "After the grace period the slow task should be cancelled."
    assert tuple(report) == (1, 1), f"drain returned {report!r}; expected (1, 1)."
    assert took < 4, f"drain took {took * 1000:,.0f} ms for a grace period of 1 s."
    assert await registry.drain(0.3) == (0, 0), "Draining an empty registry returns (0, 0)."


@pytest.mark.task(3)
async def test_drain_returns_when_the_work_is_done(registry: Any) -> None:
    registry.spawn(asyncio.sleep(0.05))
    try:
        report = await asyncio.wait_for(registry.drain(30), timeout=2)
    except TimeoutError:
        pytest.fail(
            "drain(30) waited the whole grace period, though its only task was done after "
            "50 ms: shutdown waited for nothing. Wait for the tasks, with the grace period as "
            "a limit (asyncio.wait has a timeout).",
            pytrace=False,
        )
    assert tuple(report) == (1, 0), f"drain returned {report!r}; expected (1, 0)."


@pytest.mark.task(3)
async def test_drain_awaits_what_it_cancels(registry: Any) -> None:
    cleaned: list[str] = []

    async def sends_then_cleans_up() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            await asyncio.sleep(0.02)  # e.g. closing its connection
            cleaned.append("done")
            raise

    task = registry.spawn(sends_then_cleans_up())
    await asyncio.sleep(0.01)
    await asyncio.wait_for(registry.drain(0.05), timeout=5)
    assert task.done() and cleaned, (
        "drain returned while a task it cancelled was still running its clean-up: cancel() "
        "only asks a task to stop. Await the cancelled tasks before drain returns, or shutdown "
        "goes on under them."
    )
