"""Cancels everything at once: no grace period.

expect: would have finished within the grace period
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class TaskRegistry:
    """Background tasks that cannot vanish, fail unseen, or be cut off without a grace period."""

    def __init__(self) -> None:
        self.failures: list[BaseException] = []
        self._tasks: set[asyncio.Task[Any]] = set()  # strong references: the loop's are weak

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():  # .exception() would raise CancelledError here
            return
        exc = task.exception()  # retrieving it is what "observed" means to asyncio
        if exc is not None:
            self.failures.append(exc)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, grace_s: float) -> tuple[int, int]:
        if not self._tasks:
            return 0, 0
        done, late = set[asyncio.Task[Any]](), set(self._tasks)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)  # let them run their cleanup
        return len(done), len(late)
