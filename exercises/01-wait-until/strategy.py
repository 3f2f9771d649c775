"""Exercise 01: the wait-until ordering (see README.md)."""

from __future__ import annotations

from marathon.registration import Runner
from marathon.strategies import CREATED, Work

__all__ = ["CREATED", "wait_until"]


async def wait_until(work: Work, runner: Runner) -> int:
    """Store the runner, hand the confirmation email to `work.wait_until`, answer 201.

    - `await work.store(runner)` stores the runner: the user waits for this.
    - `work.confirm(runner)` is the coroutine that sends the email.
    - `work.wait_until(coroutine)` runs it after the response, and owns it.
    """
    raise NotImplementedError("exercise 01: write the wait-until ordering")
