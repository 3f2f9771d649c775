"""Tests for exercise 06: when to try again."""

from __future__ import annotations

import random
from collections.abc import Callable
from types import ModuleType

import pytest

Delay = Callable[..., float | None]


@pytest.fixture(scope="module")
def delay(answer: ModuleType) -> Delay:
    def delay(status: int | None, attempt: int, **kwargs: object) -> float | None:
        kwargs.setdefault("rng", lambda: 1.0)  # no randomness unless a test asks for it
        return answer.retry_delay(status, attempt, **kwargs)  # type: ignore[no-any-return]

    return delay


@pytest.mark.task(1)
@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_a_permanent_failure_is_not_retried(status: int, delay: Delay) -> None:
    got = delay(status, 1)
    assert got is None, (
        f"Called retry_delay({status}, 1). The function returned {got!r}, but the tests "
        f"expected None: a {status} means the request itself is wrong, and sending it again "
        "cannot help."
    )


@pytest.mark.task(1)
@pytest.mark.parametrize("status", [500, 502, 503, None])
def test_server_errors_and_timeouts_are_retried(status: int | None, delay: Delay) -> None:
    got = delay(status, 1)
    assert got is not None, (
        f"Called retry_delay({status!r}, 1). The function returned None, but the tests "
        "expected a delay: the email API may well answer next time."
    )


@pytest.mark.task(2)
def test_attempts_run_out(delay: Delay) -> None:
    got = delay(503, 5, max_attempts=5)
    assert got is None, (
        f"Called retry_delay(503, 5, max_attempts=5). The function returned {got!r}, but the "
        "tests expected None: that was the last attempt."
    )
    assert delay(503, 4, max_attempts=5) is not None, "Attempt 4 of 5 still deserves a retry."


@pytest.mark.task(3)
def test_the_backoff_doubles_up_to_the_cap(delay: Delay) -> None:
    got = [delay(503, n, base=0.5, cap=3, max_attempts=10) for n in range(1, 6)]
    assert got == [0.5, 1.0, 2.0, 3.0, 3.0], (
        f"With base=0.5, cap=3 and rng() returning 1.0, attempts 1 to 5 gave {got}, but the "
        "tests expected [0.5, 1.0, 2.0, 3.0, 3.0]: base * 2**(attempt - 1), never above cap."
    )


@pytest.mark.task(4)
def test_equal_jitter_keeps_half_of_the_backoff(delay: Delay) -> None:
    low = delay(503, 3, base=1, rng=lambda: 0.0)
    high = delay(503, 3, base=1, rng=lambda: 0.999)
    assert low == 2.0 and high is not None and 3.99 < high < 4.0, (
        f"Attempt 3 with base=1 backs off 4 s. With rng() at 0 the function returned {low!r} and "
        f"near 1 it returned {high!r}; the tests expected 2.0 and just under 4.0: half fixed, "
        "half random."
    )


@pytest.mark.task(5)
def test_a_429_waits_at_least_retry_after(delay: Delay) -> None:
    got = delay(429, 1, retry_after=7.5)
    assert got is not None and got >= 7.5, (
        f"Called retry_delay(429, 1, retry_after=7.5). The function returned {got!r}, but the "
        "email API asked for at least 7.5 s: honour Retry-After."
    )
    assert delay(429, 1, retry_after=0.1) == 0.5, (
        "A short Retry-After does not shorten the backoff."
    )


_seeded = random.Random(6)
# Every random draw counts: both ends of [0, 1), a dense sweep, and draws from a fixed seed.
DRAWS = [0.0, 1 - 1e-9, *(i / 500 for i in range(500)), *(_seeded.random() for _ in range(500))]


@pytest.mark.task(5)
@pytest.mark.parametrize(("attempt", "retry_after"), [(1, 7.5), (3, 3.0), (4, 4.0)])
def test_no_random_draw_comes_before_retry_after(
    attempt: int, retry_after: float, delay: Delay
) -> None:
    for draw in DRAWS:
        got = delay(429, attempt, retry_after=retry_after, base=0.5, rng=lambda d=draw: d)
        assert got is not None and got >= retry_after, (
            f"With rng() at {draw:.3f}, retry_delay(429, {attempt}, retry_after={retry_after}) "
            f"returned {got!r}: sooner than the email API asked. A retry that comes early is "
            "refused again: jitter may lengthen the wait, never shorten it below Retry-After."
        )
