"""Correct, but the user waits for the insert: that is wait-until, not concurrent.

expect: the user waited for the insert
"""

from __future__ import annotations

from marathon.registration import Runner
from marathon.strategies import ACCEPTED, Work


async def concurrent(work: Work, runner: Runner) -> int:
    await work.store(runner)
    work.wait_until(work.confirm(runner))
    return ACCEPTED
