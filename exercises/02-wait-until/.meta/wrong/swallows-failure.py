"""Keeps the email from "crashing the app": a failure is caught and dropped, so nobody ever
learns that the runner got no confirmation.

expect: your code swallowed it
"""

from __future__ import annotations

import contextlib

from marathon.registration import Runner
from marathon.strategies import CREATED, Work


async def _quietly(work: Work, runner: Runner) -> None:
    with contextlib.suppress(Exception):
        await work.confirm(runner)


async def wait_until(work: Work, runner: Runner) -> int:
    await work.store(runner)
    work.wait_until(_quietly(work, runner))
    return CREATED
