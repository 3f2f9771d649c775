"""Every demo knob, in one place (HotROD's `config.go`, in Python).

Each knob has a default, a range and a line that says what it does to the waterfall.
Knobs come from the environment at start-up (`MARATHON_<NAME>`, e.g. `MARATHON_EMAIL_LATENCY_MS`)
and can be overridden for one request with a header::

    Marathon-Knobs: email_latency_ms=800, db_latency_ms=0

Only *per-request* knobs may be in that header, each within its per-request cap (`request_max`):
they shape the requester's own latency, failures and lifecycle. *Shared* knobs (the limits every
client shares: `wait_until` capacity and mode, the queue's retry policy, the workers) change
only for everyone, at start-up or with `PUT /api/knobs`; a header naming one is a 400.

The effective knobs of a request live in a context variable, so background work started by the
request (tasks copy the context) keeps the knobs the request had.
"""

from __future__ import annotations

import contextvars
import dataclasses
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "HEADER",
    "KnobError",
    "Knobs",
    "current",
    "defaults",
    "describe",
    "format_overrides",
    "from_env",
    "is_shared",
    "overrides_of",
    "parse_overrides",
    "set_defaults",
    "using",
]

HEADER = "Marathon-Knobs"
ENV_PREFIX = "MARATHON_"


class KnobError(ValueError):
    """A knob name or value that is not allowed; the message says which and why."""


def _knob(
    default: Any,
    *,
    doc: str,
    lo: float | None = None,
    hi: float | None = None,
    choices: tuple[str, ...] = (),
    shared: bool = False,
    request_hi: float | None = None,
) -> Any:
    """`shared`: one value for every client (never from the header); `request_hi`: the most a
    `Marathon-Knobs` header may ask for (defaults to `hi`)."""
    return field(
        default=default,
        metadata={
            "doc": doc,
            "lo": lo,
            "hi": hi,
            "choices": choices,
            "shared": shared,
            "request_hi": hi if request_hi is None else request_hi,
        },
    )


# One client's simulated latency may not exceed this (the header's cap on every latency knob).
REQUEST_LATENCY_MAX_MS = 10_000


@dataclass(frozen=True)
class Knobs:
    """The demo's knobs. Times are milliseconds, rates are probabilities from 0 to 1."""

    # Database
    db_latency_ms: float = _knob(
        40.0,
        lo=0,
        hi=60_000,
        request_hi=REQUEST_LATENCY_MAX_MS,
        doc="Mean latency of the managed database: widens the insert span.",
    )
    db_latency_spread: float = _knob(
        0.1, lo=0, hi=1, doc="Standard deviation of the database latency, as a fraction of it."
    )
    db_failure_rate: float = _knob(
        0.0, lo=0, hi=1, doc="Share of inserts that fail as if the database were down (1: outage)."
    )
    db_duplicate_rate: float = _knob(
        0.0,
        lo=0,
        hi=1,
        doc="Share of inserts that hit the unique email index, as a duplicate would.",
    )
    # Email API (played out by the sandbox; the API forwards them with every call)
    email_latency_ms: float = _knob(
        400.0,
        lo=0,
        hi=60_000,
        request_hi=REQUEST_LATENCY_MAX_MS,
        doc="Mean latency of the email API: widens the email span.",
    )
    email_latency_spread: float = _knob(
        0.1, lo=0, hi=1, doc="Standard deviation of the email latency, as a fraction of it."
    )
    email_failure_rate: float = _knob(
        0.0, lo=0, hi=1, doc="Share of emails the API answers with a 500: the email span turns red."
    )
    email_rate_limit_rate: float = _knob(
        0.0, lo=0, hi=1, doc="Share of emails the API answers with 429 and a Retry-After header."
    )
    email_retry_after_s: float = _knob(
        1.0,
        lo=0,
        hi=3600,
        request_hi=60,
        doc="The Retry-After the email API sends with a 429, in seconds.",
    )
    email_outage: str = _knob(
        "off", choices=("off", "on"), doc="on: the email API answers every call with 503."
    )
    email_fail_first: float = _knob(
        0.0, lo=0, hi=100, doc="The email API fails the first N calls of each email (then works)."
    )
    email_fail_with: str = _knob(
        "503",
        choices=("500", "503", "429", "422"),
        doc="How those first calls fail: 5xx and 429 are worth a retry, 422 is permanent.",
    )
    # Background work
    wait_until_max_pending: float = _knob(
        1000.0,
        lo=1,
        hi=1_000_000,
        shared=True,
        doc="How much wait_until work may be pending (or reserved by requests) at once.",
    )
    wait_until_when_full: str = _knob(
        "reject",
        choices=("reject", "drop"),
        shared=True,
        doc="When wait_until is full: reject at the door (503, Retry-After, nothing stored) or "
        "drop the work (answered, then lost, logged).",
    )
    wait_until_grace_s: float = _knob(
        30.0,
        lo=0,
        hi=600,
        shared=True,
        doc="How long shutdown (or a serverless instance) waits for wait_until work, then cancels.",
    )
    # Durable queue (the queued strategy)
    # Defaults retry for minutes (2, 4, 8, 16, 32, then 60 s; 12 attempts: dead after 3.5 to
    # 7 minutes), so an email outage of a few minutes loses nothing (docs/learn/queue.md).
    queue_max_attempts: float = _knob(
        12.0,
        lo=1,
        hi=50,
        shared=True,
        doc="Attempts at a confirmation before it goes to the dead letters.",
    )
    queue_retry_base_s: float = _knob(
        2.0, lo=0, hi=3600, shared=True, doc="First retry delay; doubles each attempt, with jitter."
    )
    queue_retry_cap_s: float = _knob(
        60.0,
        lo=0,
        hi=86_400,
        shared=True,
        doc="Longest delay between two attempts (Retry-After still wins).",
    )
    queue_enqueue_failure_rate: float = _knob(
        0.0, lo=0, hi=1, doc="Share of enqueues that fail: the whole transaction rolls back."
    )
    queue_trace_model: str = _knob(
        "link",
        choices=("link", "child"),
        doc="Job attempts as new traces linked to the request (link) or as its children.",
    )
    worker_stalled_after_s: float = _knob(
        30.0,
        lo=0.5,
        hi=3600,
        shared=True,
        doc="A worker silent this long is dead: its jobs are retried.",
    )
    # Lifecycle
    lifecycle: str = _knob(
        "process",
        choices=("process", "serverless"),
        doc="serverless: after the response, work outside wait_until is cancelled at once.",
    )

    def replace(self, overrides: Mapping[str, Any]) -> Knobs:
        """A copy with `overrides` applied; raises `KnobError` for unknown names or bad values."""
        return dataclasses.replace(self, **{k: _coerce(k, v) for k, v in overrides.items()})

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_FIELDS = {f.name: f for f in dataclasses.fields(Knobs)}


def _coerce(name: str, value: Any) -> Any:
    f = _FIELDS.get(name)
    if f is None:
        raise KnobError(f"unknown knob {name!r}; known knobs: {', '.join(_FIELDS)}")
    choices = f.metadata["choices"]
    if choices:
        if str(value).strip().lower() not in choices:
            raise KnobError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
        return str(value).strip().lower()
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise KnobError(f"{name} must be a number, got {value!r}") from None
    lo, hi = f.metadata["lo"], f.metadata["hi"]
    if not (lo <= number <= hi):  # also rejects NaN
        raise KnobError(f"{name} must be between {lo:g} and {hi:g}, got {value!r}")
    return number


def is_shared(name: str) -> bool:
    """A knob every client shares: never set by one request's header."""
    return bool(_FIELDS[name].metadata["shared"]) if name in _FIELDS else False


def _per_request(name: str, value: Any) -> Any:
    if is_shared(name):
        raise KnobError(
            f"{name} is shared by every client: it cannot be set per request (only at start-up"
            f" with {ENV_PREFIX}{name.upper()}, or by the instructor with PUT /api/knobs)"
        )
    cap = _FIELDS[name].metadata["request_hi"]
    if cap is not None and isinstance(value, float) and value > cap:
        raise KnobError(f"{name} may be at most {cap:g} per request, got {value:g}")
    return value


def parse_overrides(text: str, *, per_request: bool = False) -> dict[str, Any]:
    """Parse `name=value, name=value` (the `Marathon-Knobs` header) into validated overrides.

    `per_request`: the header's rules too: no shared knob, each value within its request cap.
    """
    overrides: dict[str, Any] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep:
            raise KnobError(f"expected name=value, got {part.strip()!r}")
        coerced = _coerce(name.strip(), value.strip())
        overrides[name.strip()] = _per_request(name.strip(), coerced) if per_request else coerced
    return overrides


def format_overrides(knobs: Knobs, names: tuple[str, ...]) -> str:
    """The header form of some knobs, e.g. to forward the email knobs to the sandbox."""
    values = knobs.as_dict()
    return ", ".join(f"{name}={_show(values[name])}" for name in names)


def _show(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def from_env(environ: Mapping[str, str] | None = None) -> Knobs:
    """Knobs from `MARATHON_<NAME>` variables; a bad value stops start-up with its reason."""
    environ = os.environ if environ is None else environ
    found = {
        n: environ[ENV_PREFIX + n.upper()] for n in _FIELDS if ENV_PREFIX + n.upper() in environ
    }
    try:
        return Knobs().replace(found)
    except KnobError as e:
        raise KnobError(f"in the environment: {e}") from None


def overrides_of(k: Knobs) -> str:
    """The header form of the per-request knobs that differ from the process defaults: what a
    job carries to its worker (never the shared retry policy: that is the worker's own)."""
    base = defaults().as_dict()
    changed = tuple(
        name for name, value in k.as_dict().items() if base[name] != value and not is_shared(name)
    )
    return format_overrides(k, changed)


def describe() -> list[dict[str, Any]]:
    """One row per knob (name, variable, default, range, doc) for `--help`, docs and the API."""
    return [
        {
            "name": f.name,
            "env": ENV_PREFIX + f.name.upper(),
            "default": f.default,
            "min": f.metadata["lo"],
            "max": f.metadata["hi"],
            "choices": list(f.metadata["choices"]),
            "scope": "shared" if f.metadata["shared"] else "request",
            "request_max": None if f.metadata["shared"] else f.metadata["request_hi"],
            "doc": f.metadata["doc"],
        }
        for f in _FIELDS.values()
    ]


_defaults = Knobs()
_current: contextvars.ContextVar[Knobs | None] = contextvars.ContextVar("knobs", default=None)


def defaults() -> Knobs:
    """The process-wide knobs (from the environment, or changed at run time)."""
    return _defaults


def set_defaults(knobs: Knobs) -> None:
    global _defaults
    _defaults = knobs


def current() -> Knobs:
    """The knobs in force here: the request's overrides if any, else the process defaults."""
    return _current.get() or _defaults


@contextmanager
def using(knobs: Knobs) -> Iterator[Knobs]:
    """Make `knobs` current for this context (and for tasks it starts)."""
    token = _current.set(knobs)
    try:
        yield knobs
    finally:
        _current.reset(token)
