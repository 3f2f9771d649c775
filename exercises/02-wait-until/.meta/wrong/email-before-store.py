"""The email starts before the insert has succeeded: a duplicate is confirmed anyway.

expect: a duplicate registration received a confirmation email
"""

from __future__ import annotations

from marathon.registration import Runner
from marathon.strategies import CREATED, Work


async def wait_until(work: Work, runner: Runner) -> int:
    work.wait_until(work.confirm(runner))
    await work.store(runner)
    return CREATED
