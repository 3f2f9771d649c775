"""Which event loop runs the servers and workers: uvloop when it is installed, else asyncio's.

`MARATHON_EVENT_LOOP`: `auto` (the default: uvloop if importable, as uvicorn's own `auto`),
`uvloop`, or `asyncio`. uvloop runs the same asyncio code on libuv; it takes about a tenth of
the API's CPU per request off (`docs/benchmarks.md`), and changes nothing the lesson shows:
tasks, contexts, cancellation and signals behave as on asyncio's own loop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

__all__ = ["VARIABLE", "choice", "loop_factory", "run"]

VARIABLE = "MARATHON_EVENT_LOOP"
Choice = Literal["auto", "uvloop", "asyncio"]
T = TypeVar("T")


def choice() -> Choice:
    """The setting, checked: uvicorn's `loop=` takes it as it is."""
    value = os.environ.get(VARIABLE, "").strip().lower() or "auto"
    if value not in ("auto", "uvloop", "asyncio"):
        raise ValueError(f"{VARIABLE} must be auto, uvloop or asyncio, got {value!r}")
    return value  # type: ignore[return-value]


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """A new event loop of the chosen kind (for code that runs its own loop: the worker)."""
    if choice() != "asyncio":
        try:
            import uvloop

            return uvloop.new_event_loop
        except ImportError:
            if choice() == "uvloop":
                raise
    return asyncio.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the chosen loop."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
