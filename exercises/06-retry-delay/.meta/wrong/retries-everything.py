"""Retries every failure, a 400 included.

expect: means the request itself is wrong
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
    if attempt >= max_attempts:
        return None
    backoff = min(cap, base * 2 ** (attempt - 1))
    return max(backoff / 2 + rng() * backoff / 2, retry_after or 0.0)
