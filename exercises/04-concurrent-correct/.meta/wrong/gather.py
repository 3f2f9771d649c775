"""Runs both concurrently with gather, but awaits them: the user waits.

expect: the user waited for
"""

from __future__ import annotations

import asyncio

from marathon.registration import Runner
from marathon.strategies import ACCEPTED, Work


async def concurrent(work: Work, runner: Runner) -> int:
    await asyncio.gather(work.store(runner), work.confirm(runner))
    return ACCEPTED
