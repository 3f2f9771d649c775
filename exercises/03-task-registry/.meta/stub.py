"""Exercise 03: make fire-and-forget safe (see README.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class TaskRegistry:
    """Background tasks that cannot vanish, fail unseen, or be cut off without a grace period."""

    def __init__(self) -> None:
        self.failures: list[BaseException] = []

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `coro` as a task, keep it alive until it is done, observe how it ends."""
        raise NotImplementedError("exercise 03: start the task and keep it")

    @property
    def pending(self) -> int:
        """How many spawned tasks are not done yet."""
        raise NotImplementedError("exercise 03: count the tasks still running")

    async def drain(self, grace_s: float) -> tuple[int, int]:
        """Wait up to `grace_s` seconds for pending tasks, cancel the rest.

        Returns (finished, cancelled).
        """
        raise NotImplementedError("exercise 03: wait, then cancel")
