"""Calls work.store without await: the coroutine is created and never run.

expect: the runner was never stored. Did you forget `await`
"""

from __future__ import annotations

from marathon.registration import Runner
from marathon.strategies import CREATED, Work


async def sequential(work: Work, runner: Runner) -> int:
    work.store(runner)  # type: ignore[unused-coroutine]
    await work.confirm(runner)
    return CREATED
