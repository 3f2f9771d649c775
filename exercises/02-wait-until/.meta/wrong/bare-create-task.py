"""Answers early with a bare create_task: fast, but nobody owns the email.

expect: nobody owns that task
"""

from __future__ import annotations

import asyncio

from marathon.registration import Runner
from marathon.strategies import CREATED, Work


async def wait_until(work: Work, runner: Runner) -> int:
    await work.store(runner)
    asyncio.create_task(work.confirm(runner))  # noqa: RUF006
    return CREATED
