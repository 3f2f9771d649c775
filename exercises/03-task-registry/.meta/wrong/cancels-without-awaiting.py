"""Cancels the late tasks and returns at once: cancel() only asks, so they are still running
their clean-up when shutdown goes on.

expect: still running its clean-up
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class TaskRegistry:
    def __init__(self) -> None:
        self.failures: list[BaseException] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.failures.append(task.exception())  # type: ignore[arg-type]

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, grace_s: float) -> tuple[int, int]:
        if not self._tasks:
            return 0, 0
        done, late = await asyncio.wait(set(self._tasks), timeout=grace_s)
        for task in late:
            task.cancel()
        return len(done), len(late)
