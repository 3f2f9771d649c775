"""What became of one registration, as the outside world saw it, and the verdicts on it: one
vocabulary, judged here and only here. The scenarios, the page (as JSON: it never re-derives a
verdict), the lesson steps, the demo's ending, the notebooks, the shutdown benchmark and the
docs' table all read it.

What "lost" means: **the confirmation is lost when no email arrived although the user was
entitled to expect one and was never told otherwise**: the answer was 2xx (a promise), or the
row is stored (a runner the system knows) and the user got no failure (no 4xx/5xx, or no answer
at all). So a `concurrent` 202 whose insert failed and whose email never came is lost too (the
user was told yes, and waits for an email); a `sequential` 502 whose row is stored is not lost
but `email_failed_told`: the user knows something failed and can act. Delivery that cannot be
seen (real Resend: `delivered is None`) is never judged lost nor kept: `delivery_unknown`.

Back-pressure is judged the same way: a `503` from a full `wait_until` that stored nothing is
`told_failure_consistent` (the retry it asks for can succeed: the app refuses at the door); a
`503` whose row is stored is `said_no_but_stored` (its retry would get a `409`, and no email).

Usage::

    judged = judge(Outcome(status=201, stored=True, delivered=False, error="send: cancelled"))
    judged.keys        # ("email_lost", "seen_in_trace_only"), most important first
    judged.sentence    # "the confirmation is lost; silently: only the trace knows"
    judged.line(12.5)  # "answered 201 after 12 ms; the confirmation is lost; ..."
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["VERDICTS", "Judgement", "Outcome", "Verdict", "judge", "vocabulary"]


@dataclass(frozen=True)
class Outcome:
    """One registration from the outside: what the user was told, what really happened."""

    status: int | None  # the HTTP status the user got; None: no answer (refused, dropped)
    stored: bool | None  # the row is in PostgreSQL; None: not known (no runner id, not asked)
    delivered: bool | None  # the outbox holds its email; None: cannot know (real Resend)
    emails_sent: int | None = None  # how many emails the outbox holds for it, if counted
    logged: bool = False  # a background failure was logged (wait_until reports what it runs)
    error: str | None = None  # the first failure on the trace

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any]) -> Outcome:
        """From a measurement's or a summary's JSON (`status`, `stored`, `delivered`, ...)."""
        return cls(
            status=d.get("status"),
            stored=d.get("stored"),
            delivered=d.get("delivered"),
            emails_sent=d.get("emails_sent"),
            logged=bool(d.get("logged")),
            error=d.get("error"),
        )


@dataclass(frozen=True)
class Verdict:
    key: str  # stable: the page, the notebooks and the tests match on it
    label: str  # a few words, for a list of strategies ("Lost the email: fire-and-forget")
    sentence: str  # its part of the one-line verdict
    when: str  # the rule, for the docs' table


# In the order a verdict line names them: what the user was told against the row first.
VERDICTS: dict[str, Verdict] = {
    v.key: v
    for v in [
        Verdict(
            "said_yes_not_stored",
            "Said yes, stored nothing",
            "said yes, but nothing is stored",
            "answered 2xx, and no row is stored",
        ),
        Verdict(
            "said_no_but_stored",
            "Said no, but stored",
            "said it failed, but the runner IS stored",
            "answered 5xx, and the row is stored",
        ),
        Verdict(
            "confirmed_unstored",
            "Confirmed a runner never stored",
            "sent a confirmation for a registration that was never stored",
            "an email arrived, and no row is stored",
        ),
        Verdict(
            "duplicate_email",
            "Sent the email twice",
            "sent the confirmation more than once",
            "the outbox holds more than one email for the registration",
        ),
        Verdict(
            "email_lost",
            "Lost the email",
            "the confirmation is lost",
            "no email arrived, the user was told yes (2xx) or the row is stored, and the user "
            "was not told of a failure (no 4xx/5xx)",
        ),
        Verdict(
            "seen_in_log",
            "Lost, logged",
            "only the log and the trace know",
            "with `email_lost`: a background failure was logged",
        ),
        Verdict(
            "seen_in_trace_only",
            "Lost silently",
            "silently: only the trace knows",
            "with `email_lost`: nothing logged, but a span of the trace failed",
        ),
        Verdict(
            "seen_nowhere",
            "Lost, unseen",
            "nothing says so",
            "with `email_lost`: nothing logged, and no span failed",
        ),
        Verdict(
            "email_failed_told",
            "Failed, and said so",
            "the confirmation failed, and the user was told",
            "no email arrived, the row is stored, and the user was told of a failure (4xx/5xx)",
        ),
        Verdict(
            "rejected_duplicate",
            "Rejected the duplicate",
            "rejected the duplicate",
            "answered 409: the address is already registered",
        ),
        Verdict(
            "told_failure_consistent",
            "Said it failed, consistently",
            "told the user it failed, and nothing is stored: consistent",
            "answered 5xx, no row is stored, and no email is known to have arrived",
        ),
        Verdict(
            "delivery_unknown",
            "Delivery unknown",
            "whether the email arrived cannot be seen (real Resend)",
            "the email API does not say what it delivered (`delivered` is null)",
        ),
        Verdict(
            "kept",
            "Kept the email",
            "stored and confirmed",
            "the row is stored and its email arrived",
        ),
        Verdict(
            "nothing_happened",
            "Nothing happened",
            "nothing happened",
            "none of the above (e.g. a 422: no row, no email)",
        ),
    ]
}


@dataclass(frozen=True)
class Judgement:
    status: int | None
    keys: tuple[str, ...]  # most important first

    @property
    def sentence(self) -> str:
        return "; ".join(VERDICTS[k].sentence for k in self.keys)

    def line(self, client_ms: float | None = None) -> str:
        """The sentence after what the user was told: a scenario's verdict."""
        told = "no answer" if self.status is None else f"answered {self.status}"
        if client_ms is not None:
            told += f" after {client_ms:,.0f} ms"
        return f"{told}; {self.sentence}"

    def __contains__(self, key: object) -> bool:
        return key in self.keys


def judge(o: Outcome) -> Judgement:
    """The verdicts on one outcome, most important first (never empty)."""
    said_yes = o.status is not None and 200 <= o.status < 300
    told_failure = o.status is not None and o.status >= 400
    said_failed = o.status is not None and o.status >= 500
    keys: list[str] = []
    if said_yes and o.stored is False:
        keys.append("said_yes_not_stored")
    if said_failed and o.stored is True:
        keys.append("said_no_but_stored")
    if o.delivered is True and o.stored is False:
        keys.append("confirmed_unstored")
    if o.emails_sent is not None and o.emails_sent > 1:
        keys.append("duplicate_email")
    if o.delivered is False and not told_failure and (said_yes or o.stored is True):
        keys.append("email_lost")
        keys.append(
            "seen_in_log" if o.logged else "seen_in_trace_only" if o.error else "seen_nowhere"
        )
    if o.delivered is False and o.stored is True and told_failure:
        keys.append("email_failed_told")
    if o.status == 409:
        keys.append("rejected_duplicate")
    elif said_failed and o.stored is False and o.delivered is not True:
        keys.append("told_failure_consistent")
    if o.delivered is None and o.stored is not None:
        keys.append("delivery_unknown")
    if o.stored is True and o.delivered is True:
        keys.append("kept")
    return Judgement(o.status, tuple(keys) or ("nothing_happened",))


def vocabulary() -> dict[str, dict[str, str]]:
    """The vocabulary as JSON, in its order: what the page shows for each key."""
    return {
        k: {"label": v.label, "sentence": v.sentence, "when": v.when} for k, v in VERDICTS.items()
    }
