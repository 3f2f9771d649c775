"""Exercise 06: when to try again (see README.md)."""

from __future__ import annotations

import random
from collections.abc import Callable


def retry_delay(
    status: int | None,
    attempt: int,
    *,
    retry_after: float | None = None,
    base: float = 0.5,
    cap: float = 30.0,
    max_attempts: int = 5,
    rng: Callable[[], float] = random.random,
) -> float | None:
    """Seconds before the next attempt, or None for no retry.

    `status` is the failed attempt's HTTP status (None: a timeout or a connection error),
    `attempt` the number of the attempt that failed (1 for the first).
    """
    raise NotImplementedError("exercise 06: decide whether and when to retry")
