"""Keeps a strong reference to the email's task itself, as asyncio's documentation advises:
it no longer vanishes, but the app does not own it (no log, no drain at shutdown).

expect: You keep the email's task yourself
"""

from __future__ import annotations

import asyncio
from typing import Any

from marathon.registration import Runner
from marathon.strategies import CREATED, Work

_running: list[asyncio.Task[Any]] = []


async def wait_until(work: Work, runner: Runner) -> int:
    await work.store(runner)
    task = asyncio.create_task(work.confirm(runner))
    _running.append(task)
    task.add_done_callback(_running.remove)
    return CREATED
