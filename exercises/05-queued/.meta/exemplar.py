"""Exercise 05: queued, both or neither (see README.md)."""

from __future__ import annotations

from marathon.registration import Runner
from marathon.strategies import ACCEPTED, Work

__all__ = ["ACCEPTED", "queued"]


async def queued(work: Work, runner: Runner) -> int:
    """The row and the job in one transaction: both, or neither."""
    async with work.transaction() as tx:
        await work.store(runner, tx)
        await work.enqueue(runner, tx)
    return ACCEPTED
