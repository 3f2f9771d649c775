"""Exercise 08: serverless, survive the freeze (see README.md)."""

from __future__ import annotations

import asyncio

from marathon.registration import Runner
from marathon.strategies import CREATED, Work

__all__ = ["CREATED", "register"]


async def register(work: Work, runner: Runner) -> int:
    """Store the runner and answer 201; the confirmation email must still arrive when the
    instance is frozen right after the response.

    This version works on a laptop. Fix it for serverless.
    """
    await work.store(runner)
    asyncio.create_task(work.confirm(runner))  # noqa: RUF006
    return CREATED
