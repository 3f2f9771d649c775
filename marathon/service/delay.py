"""Simulated latency (HotROD's `pkg/delay`): normally distributed, never below zero."""

from __future__ import annotations

import asyncio
import random

__all__ = ["sample_ms", "sleep"]


def sample_ms(mean_ms: float, spread: float) -> float:
    """One draw of a latency with standard deviation `spread * mean_ms`, floored at 0."""
    return max(0.0, random.gauss(mean_ms, spread * mean_ms))


async def sleep(mean_ms: float, spread: float) -> float:
    """Sleep for one simulated latency; returns the milliseconds slept."""
    ms = sample_ms(mean_ms, spread)
    await asyncio.sleep(ms / 1000)
    return ms
