"""Stores the runner on its own, then enqueues in a transaction: a crash between them loses the
email for good.

expect: the runner was stored but its confirmation job was not
"""

from __future__ import annotations

from marathon.registration import Runner
from marathon.strategies import ACCEPTED, Work


async def queued(work: Work, runner: Runner) -> int:
    await work.store(runner)
    async with work.transaction() as tx:
        await work.enqueue(runner, tx)
    return ACCEPTED
