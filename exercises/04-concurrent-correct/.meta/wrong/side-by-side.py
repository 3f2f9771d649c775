"""Today's concurrent strategy: insert and email side by side, so a duplicate is confirmed.

expect: a registration that failed was confirmed
"""

from __future__ import annotations

from marathon.registration import Runner
from marathon.strategies import ACCEPTED, Work


async def concurrent(work: Work, runner: Runner) -> int:
    work.wait_until(work.store(runner), work.confirm(runner))
    return ACCEPTED
