"""Shields the email from cancellation: the task is still the request's, and is still cut off.

expect: was cut off when the instance froze
"""

from __future__ import annotations

import asyncio

from marathon.registration import Runner
from marathon.strategies import CREATED, Work


async def register(work: Work, runner: Runner) -> int:
    await work.store(runner)
    asyncio.shield(work.confirm(runner))
    return CREATED
