"""The page's lesson mode, as data: seven steps, each a question for the room, a prediction, what
to run against this server, how to read the answer from the outcomes, and the takeaway.

The page (`static/lesson.js`) gets these steps as JSON (`GET /api/lesson`, also embedded in
`/lesson/{n}`) and only lays them out and runs them; the answer is always computed from what
happened (statuses, rows, outbox), never written in advance: a "strategies" answer is a verdict
of `marathon.outcomes`, judged on the server for each outcome (its `verdicts`). Every step
runs in a few seconds.

Usage::

    [first, *_] = STEPS
    first.question                 # "... how long will the user wait?"
    ANSWERS["lost"].verdict        # "email_lost": the outcomes the server judged so
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from marathon.outcomes import VERDICTS, vocabulary

__all__ = ["ANSWERS", "STEPS", "WHERE", "Answer", "Step", "as_json", "step"]

# How a prediction is made: a number of milliseconds, a set of strategies, or a count.
Predict = Literal["ms", "strategies", "count"]


@dataclass(frozen=True)
class Answer:
    """A strategy set a "strategies" step can ask about."""

    label: str  # "Lost the email: fire-and-forget"
    # The outcomes with this verdict (marathon.outcomes, judged on the server); None for
    # "waited", which the page reads from the trace: the email ended before the response.
    verdict: str | None

    @property
    def doc(self) -> str:
        if self.verdict is None:
            return "the email ended before the response: the user waited for it (from the trace)"
        return VERDICTS[self.verdict].when


ANSWERS = {
    "waited": Answer("Made the user wait", None),
    "lost": Answer(VERDICTS["email_lost"].label, "email_lost"),
    "delivered": Answer("Delivered the email", "kept"),
    "said_yes_not_stored": Answer(VERDICTS["said_yes_not_stored"].label, "said_yes_not_stored"),
}
WHERE = {where: a.doc for where, a in ANSWERS.items()}


@dataclass(frozen=True)
class Step:
    slug: str
    title: str
    question: str
    predict: Predict
    # What the button runs, with this server's own endpoints: one of
    # {"register": [strategies], "knobs": "<Marathon-Knobs header>"} (all at once),
    # {"scenario": "<name>"} (POST /api/scenarios/{name}), or
    # {"burst": "<strategy>", "n": N, "knobs": "...", "shared": {...}} (N registrations at once,
    # with shared knobs set through PUT /api/knobs for the step and restored after it).
    run: Mapping[str, Any]
    # How to read the answer: {"measure": "client_ms", "strategy": s} for "ms",
    # {"where": one of WHERE} for "strategies", {"status": 503} for "count".
    answer: Mapping[str, Any]
    takeaway: str
    choices: tuple[str, ...] = ()  # the strategies to pick from, for "strategies"

    @property
    def shared(self) -> bool:
        """Does running it change what every learner shares? A scenario sets shared knobs, and
        so does a run with "shared" limits: beyond loopback only the instructor may."""
        return "scenario" in self.run or "shared" in self.run

    def as_json(self, number: int) -> dict[str, Any]:
        return {
            "number": number,
            **asdict(self),
            "choices": list(self.choices),
            "shared": self.shared,
        }


NOT_CHECKED = (
    "no runner id in the answer (a refused registration gets none): no row or email of its own"
    " to look up"
)

ALL = ("sequential", "fire-and-forget", "concurrent", "wait-until", "queued")

STEPS: tuple[Step, ...] = (
    Step(
        slug="who-waits",
        title="Who waits",
        question="The database answers in about 40 ms, the email API in 800 ms. sequential awaits "
        "the insert, then the email, then answers. How long will the user wait?",
        predict="ms",
        run={
            "register": ["sequential", "wait-until"],
            "knobs": "email_latency_ms=800, email_latency_spread=0",
        },
        answer={"measure": "client_ms", "strategy": "sequential"},
        takeaway="The user waits for everything the handler awaits: insert + email. wait-until "
        "answers after the insert; its email ends after the response (hatched).",
    ),
    Step(
        slug="slow-email",
        title="The slow email",
        question="The email API slows down to 1.5 s. Which strategies make the user wait for it?",
        predict="strategies",
        choices=ALL,
        run={"register": list(ALL), "knobs": "email_latency_ms=1500, email_latency_spread=0"},
        answer={"where": "waited"},
        takeaway="Only sequential waits. The others answer at once and the email goes on after "
        "the response, where nobody is waiting for it. So who makes sure it finishes?",
    ),
    Step(
        slug="shutdown",
        title="The lost email at shutdown",
        question="The server gets SIGTERM right after answering, while the email is still on "
        "its way. Which strategies lose the email?",
        predict="strategies",
        choices=ALL,
        run={"scenario": "shutdown-mid-flight"},
        answer={"where": "lost"},
        takeaway="A bare create_task dies with the event loop: the user was told yes, the email "
        "is gone, and only the trace says so (send confirmation · nobody, cancelled at "
        "shutdown). wait_until work is drained before exit; a queued job "
        "waits in the database for a worker.",
    ),
    Step(
        slug="serverless",
        title="The serverless freeze",
        question="On a serverless platform the instance is frozen as soon as the response is "
        "sent. Which strategies lose the email?",
        predict="strategies",
        choices=ALL,
        run={"scenario": "serverless-teardown"},
        answer={"where": "lost"},
        takeaway="After the response only work handed to wait_until (Cloudflare's "
        "ctx.waitUntil) is kept alive; the rest is cut off mid-flight. The queue hands the work "
        "to a worker outside the instance.",
    ),
    Step(
        slug="duplicate",
        title="The duplicate and the early 202",
        question="The same email address registers a second time. Which strategies tell the "
        "user yes (2xx) although nothing new is stored?",
        predict="strategies",
        choices=ALL,
        run={"scenario": "duplicate-runner"},
        answer={"where": "said_yes_not_stored"},
        takeaway="Answering before the insert promises what the database has not agreed to: "
        "concurrent says 202, the duplicate is found later, and may still be confirmed. Await "
        "the insert and answer 409.",
    ),
    Step(
        slug="outage",
        title="The outage and the queue",
        question="The email API is down while the runners register, then comes back. Which "
        "strategies still deliver the email once it is back?",
        predict="strategies",
        choices=ALL,
        run={"scenario": "email-outage"},
        answer={"where": "delivered"},
        takeaway="Only the queue retries: the job is in the database, and a worker delivers it "
        "once the API is back. The others told the user (502), logged it, or lost it silently.",
    ),
    Step(
        slug="burst",
        title="The burst",
        question="30 runners register at once with wait-until; wait_until holds only 5 emails in "
        "flight. How many get 503 (try again later), and what is stored for them?",
        predict="count",
        run={
            "burst": "wait-until",
            "n": 30,
            "knobs": "email_latency_ms=1500, email_latency_spread=0",
            # A shared limit (the header may not change it): set for the step, then restored.
            "shared": {"wait_until_max_pending": 5},
        },
        answer={"status": 503},
        takeaway="Reject at the door, before you commit anything: wait_until's room is reserved "
        "before the insert, so a 503 stored nothing (no row, no email, no insert span) and its "
        "retry works. Refused after the insert, the retry would get a 409 and no email. A queue "
        "absorbs a burst: try Send burst with queued in free mode.",
    ),
)


def step(number: int) -> Step:
    """Step `number`, counted from 1 as on the page; IndexError outside 1..len(STEPS)."""
    if not 1 <= number <= len(STEPS):
        raise IndexError(f"the lesson has steps 1 to {len(STEPS)}, not {number}")
    return STEPS[number - 1]


def as_json() -> dict[str, Any]:
    return {
        "steps": [s.as_json(i) for i, s in enumerate(STEPS, start=1)],
        "where": WHERE,
        "answers": {w: {"label": a.label, "verdict": a.verdict} for w, a in ANSWERS.items()},
        "verdicts": vocabulary(),  # what the page shows for each key an outcome carries
        # An outcome's `stored`/`delivered` is null when its answer carried no runner id.
        "not_checked": NOT_CHECKED,
    }
