"""Jitters the Retry-After too, "so that workers do not come back at once": with a small
random draw the retry comes before the time the email API asked for.

expect: sooner than the email API asked
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
    wait = max(min(cap, base * 2 ** (attempt - 1)), retry_after or 0.0)
    return wait / 2 + rng() * wait / 2
