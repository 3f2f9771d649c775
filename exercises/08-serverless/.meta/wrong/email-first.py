"""Hands the email over before storing: it survives the freeze, and a duplicate is confirmed.

expect: a duplicate registration received a confirmation email
"""

from __future__ import annotations

from marathon.registration import Runner
from marathon.strategies import CREATED, Work


async def register(work: Work, runner: Runner) -> int:
    work.wait_until(work.confirm(runner))
    await work.store(runner)
    return CREATED
