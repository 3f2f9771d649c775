"""Exercise 02: answer first, keep the promise (see README.md)."""

from __future__ import annotations

from marathon.registration import Runner
from marathon.strategies import CREATED, Work

__all__ = ["CREATED", "wait_until"]


async def wait_until(work: Work, runner: Runner) -> int:
    """Register `runner`: answer 201 without making the user wait for the email, and never
    lose that email.

    `work` is what a registration can do (see "The `Work` API" in exercises/README.md).
    """
    raise NotImplementedError("exercise 02: write the wait-until ordering")
