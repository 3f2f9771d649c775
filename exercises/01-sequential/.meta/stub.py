"""Exercise 01: one thing after another (see README.md)."""

from __future__ import annotations

from marathon.registration import Runner
from marathon.strategies import CREATED, Work

__all__ = ["CREATED", "sequential"]


async def sequential(work: Work, runner: Runner) -> int:
    """Store the runner, send its confirmation email, then answer CREATED (201)."""
    raise NotImplementedError("exercise 01: store, confirm, answer")
