"""Stores the runner and sends the email in the request: no queue at all.

expect: the user waited for the email
"""

from __future__ import annotations

from marathon.registration import Runner
from marathon.strategies import ACCEPTED, Work


async def queued(work: Work, runner: Runner) -> int:
    await work.store(runner)
    await work.confirm(runner)
    return ACCEPTED
