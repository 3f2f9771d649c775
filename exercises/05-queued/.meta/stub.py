"""Exercise 05: queued, both or neither (see README.md)."""

from __future__ import annotations

from marathon.registration import Runner
from marathon.strategies import ACCEPTED, Work

__all__ = ["ACCEPTED", "queued"]


async def queued(work: Work, runner: Runner) -> int:
    """Store the runner and enqueue its confirmation job, both or neither; answer ACCEPTED."""
    raise NotImplementedError("exercise 05: the row and the job, in one transaction")
