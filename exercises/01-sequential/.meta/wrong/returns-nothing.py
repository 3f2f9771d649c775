"""Does the work but forgets to return the status code.

expect: your function returned None
"""

from __future__ import annotations

from marathon.registration import Runner
from marathon.strategies import Work


async def sequential(work: Work, runner: Runner) -> int:
    await work.store(runner)
    await work.confirm(runner)  # and then: no return
