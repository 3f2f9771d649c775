"""One outcome model, one verdict vocabulary (`marathon.outcomes`): each verdict pinned by a
row, with the sentence every channel shows; the lesson JSON serves the vocabulary and the
scenario JSON carries each strategy's keys, so the page only displays what Python judged."""

from __future__ import annotations

import httpx
import pytest

from marathon.lab import compare
from marathon.lab.measure import Measurement
from marathon.outcomes import VERDICTS, Outcome, judge, vocabulary
from marathon.views import lesson_steps

# (case, outcome, keys most important first, the sentence)
CASES = [
    (
        "kept",
        Outcome(201, stored=True, delivered=True, emails_sent=1),
        ("kept",),
        "stored and confirmed",
    ),
    (
        "fire-and-forget at shutdown: cancelled, only the trace says so",
        Outcome(201, True, False, error="send confirmation: cancelled at shutdown"),
        ("email_lost", "seen_in_trace_only"),
        "the confirmation is lost; silently: only the trace knows",
    ),
    (
        "wait-until in an outage: the failure is logged",
        Outcome(201, True, False, logged=True, error="send confirmation: 503"),
        ("email_lost", "seen_in_log"),
        "the confirmation is lost; only the log and the trace know",
    ),
    (
        "lost, and neither the log nor the trace says so",
        Outcome(202, True, False),
        ("email_lost", "seen_nowhere"),
        "the confirmation is lost; nothing says so",
    ),
    (
        # The copies disagreed here: the user was told yes and waits for an email.
        "concurrent 202 whose insert failed, no email",
        Outcome(202, stored=False, delivered=False, error="insert runner: failed"),
        ("said_yes_not_stored", "email_lost", "seen_in_trace_only"),
        "said yes, but nothing is stored; the confirmation is lost; silently: only the trace knows",
    ),
    (
        "concurrent 202 on a duplicate: confirms a runner never stored",
        Outcome(202, stored=False, delivered=True, emails_sent=1),
        ("said_yes_not_stored", "confirmed_unstored"),
        "said yes, but nothing is stored; "
        "sent a confirmation for a registration that was never stored",
    ),
    (
        "409: the duplicate refused",
        Outcome(409, stored=False, delivered=False),
        ("rejected_duplicate",),
        "rejected the duplicate",
    ),
    (
        # A full wait_until refuses at the door: the retry its Retry-After asks for can succeed.
        "503, nothing stored, no email (back-pressure at the door)",
        Outcome(503, stored=False, delivered=False),
        ("told_failure_consistent",),
        "told the user it failed, and nothing is stored: consistent",
    ),
    (
        "503 with real Resend: consistent about the row, the email cannot be seen",
        Outcome(503, stored=False, delivered=None),
        ("told_failure_consistent", "delivery_unknown"),
        "told the user it failed, and nothing is stored: consistent; "
        "whether the email arrived cannot be seen (real Resend)",
    ),
    (
        # Refused only at the handover, after the insert: the retry gets a 409, and no email.
        "503 from a full wait_until after the insert: told to retry, but stored",
        Outcome(503, stored=True, delivered=False),
        ("said_no_but_stored", "email_failed_told"),
        "said it failed, but the runner IS stored; the confirmation failed, and the user was told",
    ),
    (
        "sequential 502 in an outage: stored, the email failed, the user told (not lost)",
        Outcome(502, stored=True, delivered=False),
        ("said_no_but_stored", "email_failed_told"),
        "said it failed, but the runner IS stored; the confirmation failed, and the user was told",
    ),
    (
        "real Resend: delivery cannot be known, neither lost nor kept",
        Outcome(201, stored=True, delivered=None),
        ("delivery_unknown",),
        "whether the email arrived cannot be seen (real Resend)",
    ),
    (
        "sent twice",
        Outcome(202, stored=True, delivered=True, emails_sent=2),
        ("duplicate_email", "kept"),
        "sent the confirmation more than once; stored and confirmed",
    ),
    (
        "no answer (the connection dropped), but stored and no email: lost",
        Outcome(None, stored=True, delivered=False),
        ("email_lost", "seen_nowhere"),
        "the confirmation is lost; nothing says so",
    ),
    (
        "the shutdown benchmark: accepted, row not asked, no email",
        Outcome(202, stored=None, delivered=False, emails_sent=0),
        ("email_lost", "seen_nowhere"),
        "the confirmation is lost; nothing says so",
    ),
    (
        "a 422: nothing stored, nothing sent",
        Outcome(422, stored=None, delivered=None),
        ("nothing_happened",),
        "nothing happened",
    ),
]


@pytest.mark.parametrize(("case", "outcome", "keys", "sentence"), CASES, ids=[c[0] for c in CASES])
def test_each_verdict(case: str, outcome: Outcome, keys: tuple[str, ...], sentence: str) -> None:
    judged = judge(outcome)
    assert judged.keys == keys, case
    assert judged.sentence == sentence, case


def test_every_verdict_has_a_case_and_a_label() -> None:
    reached = {k for _, outcome, _, _ in CASES for k in judge(outcome).keys}
    assert reached == set(VERDICTS), "a verdict nobody can reach, or a case for a missing one"
    assert all(v.label and v.sentence and v.when for v in VERDICTS.values())
    assert list(vocabulary()) == list(VERDICTS)


def test_the_scenario_line_says_what_the_user_was_told_first() -> None:
    judged = judge(Outcome(201, True, False, error="send confirmation: cancelled"))
    assert judged.line(812.4) == (
        "answered 201 after 812 ms; the confirmation is lost; silently: only the trace knows"
    )
    assert judge(Outcome(None, True, False)).line().startswith("no answer; ")


def test_the_scenario_verdict_and_the_keys_come_from_one_judgement() -> None:
    m = Measurement("concurrent", 202, 9.0, stored=False, delivered=False, error="insert: x")
    c = compare.Comparison("http://x", None, {"concurrent": [m]})
    [row] = c.as_json()["strategies"]
    assert row["verdicts"] == ["said_yes_not_stored", "email_lost", "seen_in_trace_only"]
    back = compare.Comparison.from_json(c.as_json())
    assert back.summary("concurrent")["verdicts"] == row["verdicts"]
    assert Outcome.from_mapping(m.as_dict()) == m.outcome()


def test_the_lesson_answers_are_verdicts() -> None:
    for step in lesson_steps.STEPS:
        if step.predict == "strategies":
            answer = lesson_steps.ANSWERS[step.answer["where"]]
            assert answer.verdict is None or answer.verdict in VERDICTS, step.slug
    assert lesson_steps.ANSWERS["lost"].verdict == "email_lost"


@pytest.mark.anyio
async def test_the_page_gets_the_vocabulary_from_the_server(client: httpx.AsyncClient) -> None:
    lesson = (await client.get("/api/lesson")).json()
    assert lesson["verdicts"] == vocabulary()
    assert lesson["answers"]["lost"] == {"label": "Lost the email", "verdict": "email_lost"}
    assert lesson["answers"]["waited"]["verdict"] is None  # read from the trace
    assert set(lesson["where"]) == set(lesson["answers"])
