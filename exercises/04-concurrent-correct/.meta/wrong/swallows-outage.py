"""Skips the email when the insert fails, and says nothing: a duplicate is handled, but a
database outage vanishes too (the runner is not stored, and nobody knows).

expect: your code swallowed it
"""

from __future__ import annotations

from marathon.registration import Runner
from marathon.strategies import ACCEPTED, Work


async def concurrent(work: Work, runner: Runner) -> int:
    async def register() -> None:
        try:
            await work.store(runner)
        except Exception:
            return  # not stored: no email
        await work.confirm(runner)

    work.wait_until(register())
    return ACCEPTED
