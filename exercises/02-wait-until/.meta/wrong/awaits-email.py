"""Awaits the email: correct, but the user waits for it.

expect: the user waited
"""

from __future__ import annotations

from marathon.registration import Runner
from marathon.strategies import CREATED, Work


async def wait_until(work: Work, runner: Runner) -> int:
    await work.store(runner)
    await work.confirm(runner)
    return CREATED
