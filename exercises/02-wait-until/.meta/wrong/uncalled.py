"""Hands wait_until the function instead of the coroutine it returns.

expect: Your code raised TypeError: a coroutine was expected
"""

from __future__ import annotations

from marathon.registration import Runner
from marathon.strategies import CREATED, Work


async def wait_until(work: Work, runner: Runner) -> int:
    await work.store(runner)
    work.wait_until(work.confirm)  # type: ignore[arg-type]
    return CREATED
