"""Exercise 01: the wait-until ordering (see README.md)."""

from __future__ import annotations

from marathon.registration import Runner
from marathon.strategies import CREATED, Work

__all__ = ["CREATED", "wait_until"]


async def wait_until(work: Work, runner: Runner) -> int:
    """Store the runner, hand the confirmation email to `work.wait_until`, answer 201."""
    await work.store(runner)
    work.wait_until(work.confirm(runner))
    return CREATED
