"""Exercise 02: answer first, keep the promise (see README.md)."""

from __future__ import annotations

from marathon.registration import Runner
from marathon.strategies import CREATED, Work

__all__ = ["CREATED", "wait_until"]


async def wait_until(work: Work, runner: Runner) -> int:
    """Store, then hand the email to the app's wait_until, then answer."""
    await work.store(runner)  # a duplicate raises here: nothing to confirm
    work.wait_until(work.confirm(runner))
    return CREATED
