"""Exercise 04: concurrent, but correct (see README.md)."""

from __future__ import annotations

from marathon.registration import Runner
from marathon.strategies import ACCEPTED, Work

__all__ = ["ACCEPTED", "concurrent"]


async def concurrent(work: Work, runner: Runner) -> int:
    """Answer ACCEPTED (202) at once; in the background, register the runner and confirm it,
    but never confirm a registration that failed."""
    raise NotImplementedError("exercise 04: answer at once, confirm only what was stored")
