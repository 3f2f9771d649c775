"""Hands the email over, then once more "to be sure": two tries at one email.

expect: but the tests expected once: each hand-over
"""

from __future__ import annotations

from marathon.registration import Runner
from marathon.strategies import CREATED, Work


async def wait_until(work: Work, runner: Runner) -> int:
    await work.store(runner)
    for _ in range(2):
        work.wait_until(work.confirm(runner))
    return CREATED
