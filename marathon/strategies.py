"""The lesson: five endpoints do the same work (store the runner, send the confirmation) and
differ only in the order they await it. Diff any two functions: only the ordering changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from marathon.registration import Runner

__all__ = ["ACCEPTED", "CREATED", "LESSONS", "STRATEGIES", "Strategy", "Work"]

CREATED, ACCEPTED = 201, 202


@dataclass(frozen=True)
class Work:
    """What a registration does, and how background work is handed over.

    - `await store(runner)` stores the runner (`DuplicateRunner` if the email is taken: a 409);
      `store(runner, connection)` does it in that connection's transaction;
    - `confirm(runner)` is the coroutine that sends the confirmation email;
    - `wait_until(*coroutines)` runs them after (or while) the response is sent; the app owns
      them: a strong reference, a failure logged, a drain at shutdown;
    - `async with transaction() as connection:` one database transaction;
    - `await enqueue(runner, connection)` defers the confirmation job in that transaction.
    """

    store: Callable[..., Awaitable[None]]  # (runner, connection=None)
    confirm: Callable[[Runner], Coroutine[Any, Any, Any]]
    wait_until: Callable[..., None]
    transaction: Callable[[], AbstractAsyncContextManager[Any]]
    enqueue: Callable[[Runner, Any], Awaitable[None]]  # (runner, connection)


async def sequential(work: Work, runner: Runner) -> int:
    await work.store(runner)
    await work.confirm(runner)
    return CREATED


async def fire_and_forget(work: Work, runner: Runner) -> int:
    await work.store(runner)
    # The trap: nobody keeps this task (the loop holds only a weak reference, so it can vanish),
    # nobody awaits it (its exception is never seen), and shutdown cancels it mid-send.
    asyncio.create_task(work.confirm(runner))  # noqa: RUF006
    return CREATED


async def concurrent(work: Work, runner: Runner) -> int:
    # Two pieces, each owned: with gather(), a failed insert would orphan the running email.
    work.wait_until(work.store(runner), work.confirm(runner))
    return ACCEPTED


async def wait_until(work: Work, runner: Runner) -> int:
    await work.store(runner)
    work.wait_until(work.confirm(runner))
    return CREATED


async def queued(work: Work, runner: Runner) -> int:
    async with work.transaction() as tx:  # the row and the job: both, or neither
        await work.store(runner, tx)
        await work.enqueue(runner, tx)
    return ACCEPTED


Strategy = Callable[[Work, Runner], Awaitable[int]]

# path segment -> strategy, in the order the lesson tells them
STRATEGIES: dict[str, Strategy] = {
    "sequential": sequential,
    "fire-and-forget": fire_and_forget,
    "concurrent": concurrent,
    "wait-until": wait_until,
    "queued": queued,
}

LESSONS = {
    "sequential": "await insert, await email, respond: the user waits for both",
    "fire-and-forget": "await insert, start the email unowned, respond: fast, email may be lost",
    "concurrent": "respond at once, insert and email in the background: 202, nothing checked",
    "wait-until": "await insert, hand the email to wait_until, respond: drained on shutdown",
    "queued": "insert and enqueue in one transaction, respond 202: workers deliver with retries",
}
