"""The notebooks' helper (`marathon.lab.notebook`): how it judges a guess of each type, and
what a run shows once its work has settled, on a lab of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from marathon.lab import notebook
from marathon.lab.notebook import compare_guess
from marathon.service.transport import tls_context
from marathon.tracing import EMAIL_SPAN


def test_a_time_is_close_enough_within_a_margin() -> None:
    assert "Spot on" in compare_guess(310, 318)
    assert "longer than you guessed" in compare_guess(100, 420)
    assert "Faster than you guessed" in compare_guess(300, 15)
    assert "put a number" in compare_guess(None, 318)
    gap = compare_guess(100, 580, what="the gap between the attempts")
    assert "the gap between the attempts was 580 ms" in gap and "await" not in gap


def test_a_count_or_a_status_is_exact() -> None:
    assert "Well predicted" in compare_guess(2, 2, unit="emails lost")
    assert "Well predicted" not in compare_guess(1, 2, unit="emails lost")
    said = compare_guess(201, 202, unit="HTTP status")
    assert "201" in said and "202 (HTTP status)" in said and "Well predicted" not in said


def test_a_yes_no_question_wants_a_bool() -> None:
    assert "Well predicted" in compare_guess(True, True)
    assert "it was no" in compare_guess(True, False)
    assert "True or False" in compare_guess(None, True)
    # A number or a word is not a yes/no: the learner is told what to write.
    assert "write True or False, not 1" in compare_guess(1, True)
    assert "write True or False, not 'yes'" in compare_guess("yes", True)


def test_a_set_of_strategies_says_what_was_missed_and_what_was_not() -> None:
    measured = {"queued", "sequential"}
    assert "Well predicted" in compare_guess(["sequential", "queued"], measured)
    said = compare_guess({"queued", "wait-until"}, measured)
    assert "also {sequential}" in said and "not {wait-until}" in said
    assert "No strategy {waituntil}" in compare_guess({"waituntil"}, measured)
    assert "a set of strategies" in compare_guess("queued", measured)
    assert "a set like" in compare_guess(None, measured)


def test_a_guess_of_the_wrong_type_for_a_time_is_told_so() -> None:
    assert "Write a number" in compare_guess({"queued"}, 300.0)
    assert "Write a number" in compare_guess(True, 300.0)  # a bool is no time


@pytest.fixture(scope="module")
def lab() -> Iterator[notebook.Lab]:
    lab = notebook.start()
    yield lab
    lab.stop()


def test_a_child_model_run_is_drawn_with_every_attempt(lab: notebook.Lab) -> None:
    """The retry starts after a backoff, while no span runs: its spans are in the waterfall."""
    run = lab.register(
        "queued",
        email_latency_ms=20,
        email_fail_first=1,
        queue_retry_base_s=0.3,
        queue_trace_model="child",
    )
    assert run.delivered is True and run.measurement.attempts == 2
    assert run.waterfall is not None
    sends = [b for b in run.waterfall.bars if b.name == EMAIL_SPAN]
    assert [b.status for b in sorted(sends, key=lambda b: b.start_ms)] == ["error", "ok"]
    assert not any(b.linked for b in run.waterfall.bars)  # children, not links


def test_the_first_measurement_pays_no_cold_start() -> None:
    """start() warmed its stack: the first registration a learner measures has its email call
    reach the sandbox at once, not after the first email's set-up (TLS context, pool)."""
    tls_context.cache_clear()  # as in a fresh kernel, whatever this process sent before
    lab = notebook.start()
    try:
        runs = [lab.register("sequential", email_latency_ms=100, db_latency_ms=10) for _ in "abc"]
    finally:
        lab.stop()

    def gap(run: notebook.Run) -> float:
        """From the email call leaving the app to the sandbox seeing it."""
        assert run.waterfall is not None
        server = next(b for b in run.waterfall.bars if b.name == "POST /emails")
        [client] = [b for b in run.waterfall.bars if b.span_id == server.parent_id]
        return server.start_ms - client.start_ms

    first, *later = map(gap, runs)
    # Cold, the first call reached the sandbox 20 ms (idle machine) to 100 ms (busy) later than
    # the calls after it; warm, it is one of them (a relation, so a loaded machine cannot fail it).
    assert first <= 2 * max(later) + 10, (first, later)
