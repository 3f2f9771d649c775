"""Opens the transaction but stores the runner without passing it the connection: the insert
commits on a connection of its own.

expect: the runner was stored but its confirmation job was not
"""

from __future__ import annotations

from marathon.registration import Runner
from marathon.strategies import ACCEPTED, Work


async def queued(work: Work, runner: Runner) -> int:
    async with work.transaction() as tx:
        await work.store(runner)
        await work.enqueue(runner, tx)
    return ACCEPTED
