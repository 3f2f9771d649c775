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

__all__ = [
    "ACCEPTED",
    "CREATED",
    "LESSONS",
    "STRATEGIES",
    "WAIT_UNTIL_SLOTS",
    "Lesson",
    "Strategy",
    "Work",
]

CREATED, ACCEPTED = 201, 202


@dataclass(frozen=True)
class Work:
    """What a registration does, and how background work is handed over.

    - `await store(runner)` stores the runner (`DuplicateRunner` if the email is taken: a 409);
      `store(runner, connection)` does it in that connection's transaction;
    - `confirm(runner)` is the coroutine that sends the confirmation email;
    - `wait_until(*coroutines)` runs them after (or while) the response is sent; the app owns
      them: a strong reference, a failure logged, a drain at shutdown, room held at the door;
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

# How many pieces each hands to wait_until: the endpoint reserves that room at the door, so a
# full wait_until refuses the request before it writes anything (marathon/background.py).
WAIT_UNTIL_SLOTS = {"concurrent": 2, "wait-until": 1}


@dataclass(frozen=True)
class Lesson:
    """What one ordering costs: a row of the thesis table (README, docs), from this file."""

    ordering: str
    waits_for: str  # what the user waits for
    can_lose: str

    @property
    def summary(self) -> str:
        return f"{self.ordering}: the user waits for {self.waits_for}; can lose {self.can_lose}"


LESSONS = {
    "sequential": Lesson(
        "await insert, await email, respond",
        "the insert and the email",
        "nothing; but a slow email is the user's wait, and a failed one a 502 for a stored runner",
    ),
    "fire-and-forget": Lesson(
        "await insert, bare create_task(email), respond",
        "the insert",
        "the email, silently: cancelled at shutdown or by a freeze, or collected; errors unseen",
    ),
    "concurrent": Lesson(
        "wait_until(insert, email), respond at once",
        "nothing",
        "correctness: a duplicate or failed insert is found after the 202, the email still goes",
    ),
    "wait-until": Lesson(
        "await insert, wait_until(email), respond",
        "the insert",
        "the email, if it outlives the grace period or the process, or a full wait_until drops it",
    ),
    "queued": Lesson(
        "insert and enqueue the job in one transaction, respond; workers send with retries",
        "the insert and the enqueue",
        "nothing once committed: retries, then dead letters; one email per runner",
    ),
}
