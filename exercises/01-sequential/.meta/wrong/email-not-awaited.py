"""Calls work.confirm without await: no email is ever sent.

expect: the email was never sent. Did you forget `await`
"""

from __future__ import annotations

from marathon.registration import Runner
from marathon.strategies import CREATED, Work


async def sequential(work: Work, runner: Runner) -> int:
    await work.store(runner)
    work.confirm(runner)  # type: ignore[unused-coroutine]
    return CREATED
