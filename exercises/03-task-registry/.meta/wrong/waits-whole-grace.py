"""Sleeps through the grace period, then cancels what is still running: correct, but every
shutdown takes the whole grace period, even with nothing left to do.

expect: waited the whole grace period
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
        tasks = set(self._tasks)
        await asyncio.sleep(grace_s)
        late = [t for t in tasks if not t.done()]
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
        return len(tasks) - len(late), len(late)
