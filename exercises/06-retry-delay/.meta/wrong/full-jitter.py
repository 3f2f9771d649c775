"""Full jitter (anything from 0 to the backoff): a retry may come back at once.

expect: half fixed, half random
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
    return max(rng() * backoff, retry_after or 0.0)
