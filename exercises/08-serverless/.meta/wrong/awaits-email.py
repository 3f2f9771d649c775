"""Awaits the email: it survives, but the user waits for it.

expect: the user waited
"""

from __future__ import annotations

from marathon.registration import Runner
from marathon.strategies import CREATED, Work


async def register(work: Work, runner: Runner) -> int:
    await work.store(runner)
    await work.confirm(runner)
    return CREATED
