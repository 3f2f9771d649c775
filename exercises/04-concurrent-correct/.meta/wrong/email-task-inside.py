"""Hands wait_until a function that stores, then starts the email as a task of its own and
returns: the fire-and-forget trap, one level down (wait_until owns the function, not the email).

expect: started the email as a task of its own
"""

from __future__ import annotations

import asyncio

from marathon.registration import Runner
from marathon.strategies import ACCEPTED, Work


async def concurrent(work: Work, runner: Runner) -> int:
    async def register() -> None:
        await work.store(runner)
        asyncio.ensure_future(work.confirm(runner))  # noqa: RUF006

    work.wait_until(register())
    return ACCEPTED
