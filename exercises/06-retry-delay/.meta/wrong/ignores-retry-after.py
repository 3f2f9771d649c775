"""Backs off correctly but ignores the 429's Retry-After.

expect: honour Retry-After
"""

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
    if status is not None and 400 <= status < 500 and status != 429:
        return None
    if attempt >= max_attempts:
        return None
    backoff = min(cap, base * 2 ** (attempt - 1))
    return backoff / 2 + rng() * backoff / 2
