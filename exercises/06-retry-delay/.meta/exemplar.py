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
    """Seconds before the next attempt, or None for no retry."""
    if status is not None and 400 <= status < 500 and status != 429:
        return None
    if attempt >= max_attempts:
        return None
    backoff = min(cap, base * 2 ** (attempt - 1))
    delay = backoff / 2 + rng() * backoff / 2
    return max(delay, retry_after or 0.0)
