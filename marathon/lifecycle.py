"""Lifecycles: a long-running `process`, or a `serverless` instance frozen after each response.

In the serverless lifecycle (Cloudflare Workers, Lambda), once the response is sent the runtime
keeps the instance alive only for work registered with `wait_until`, for a grace period; any
other work the request started is cut off. To find "work the request started", a task factory
tags every task created while a request scope is active.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from marathon.tracing import FREEZE_REASON, current_owner, owned_by

if TYPE_CHECKING:
    from marathon.background import Background

__all__ = ["freeze", "install_task_factory", "request_scope", "request_tasks"]

_scope: contextvars.ContextVar[set[asyncio.Task[Any]] | None] = contextvars.ContextVar(
    "marathon_request_tasks", default=None
)

FROZEN = f"{FREEZE_REASON} instance frozen after the response (not in wait_until)"


def install_task_factory(loop: asyncio.AbstractEventLoop) -> None:
    """Record each task created inside a request scope in that scope (idempotent); unless
    someone owns it (wait_until), its spans say nobody does (`marathon.owner = nobody`)."""
    previous = loop.get_task_factory()
    if getattr(previous, "marathon", False):
        return

    def factory(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
    ) -> asyncio.Task[Any]:
        tasks = _scope.get()
        if tasks is not None:
            context = kwargs.get("context") or contextvars.copy_context()
            if context.run(current_owner) == "request":  # a bare create_task
                kwargs["context"] = owned_by("nobody", context)
        if previous is not None:
            task: Any = previous(loop, coro, **kwargs)
        else:
            task = asyncio.Task(coro, loop=loop, **kwargs)
        if tasks is not None:
            tasks.add(task)
        return task  # type: ignore[no-any-return]

    factory.marathon = True  # type: ignore[attr-defined]
    loop.set_task_factory(factory)  # type: ignore[arg-type]


@contextmanager
def request_scope() -> Iterator[set[asyncio.Task[Any]]]:
    """Collect the tasks started while the block runs (the request's work)."""
    tasks: set[asyncio.Task[Any]] = set()
    token = _scope.set(tasks)
    try:
        yield tasks
    finally:
        _scope.reset(token)


def request_tasks() -> set[asyncio.Task[Any]] | None:
    """The tasks started so far in the current request scope (None outside one): the app's own
    record, which the exercises' harness tells apart from the learner's references."""
    return _scope.get()


def outside_scope() -> contextvars.Context:
    """A copy of the current context without a request scope (for work wait_until owns)."""
    context = contextvars.copy_context()
    context.run(_scope.set, None)
    return context


async def freeze(started: set[asyncio.Task[Any]], background: Background, grace_s: float) -> None:
    """After the response: cut off unowned work now, owned work after the grace period.

    Async on purpose: Litestar runs a sync background task on a worker thread, off the loop.
    """
    # Let tasks created just before the response take their first step: in a real runtime their
    # requests would already be in flight, and a task cancelled before it starts leaves no span.
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    for task in started:
        if task.done():
            continue
        if background.owns(task):
            reason = f"{FREEZE_REASON} wait_until grace period of {grace_s:g} s ran out"
            loop.call_later(grace_s, task.cancel, reason)
        else:
            task.cancel(FROZEN)
