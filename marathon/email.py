"""The confirmation email, sent through the real Resend SDK (to the sandbox by default)."""

from __future__ import annotations

import hashlib
import html
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import resend
from resend.http_client_httpx import HTTPXClient

from marathon import knobs
from marathon.registration import Runner
from marathon.settings import Settings
from marathon.tracing import EMAIL_SPAN, RUNNER_ATTR, work_span

__all__ = ["DuplicateConfirmation", "configure", "send_confirmation"]

# The knobs the sandbox plays out (latency, failures); the API forwards them on every call.
SANDBOX_KNOBS = (
    "email_latency_ms",
    "email_latency_spread",
    "email_failure_rate",
    "email_rate_limit_rate",
    "email_retry_after_s",
    "email_outage",
    "email_fail_first",
    "email_fail_with",
)

DISTANCE_NAMES = {"5k": "5 km", "10k": "10 km", "half": "half marathon", "full": "marathon"}


class KnobForwardingClient(HTTPXClient):
    """The SDK's own httpx client, plus the request's email knobs for the sandbox.

    The API owns the knobs (environment, run-time changes, per-request header); the sandbox,
    like a real email API, has no way to know them unless each call says so.
    """

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        json: Any = None,
        files: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        forwarded = knobs.format_overrides(knobs.current(), SANDBOX_KNOBS)
        headers = {**headers, knobs.HEADER: forwarded}
        return await super().request(method, url, headers, json=json, files=files, data=data)


_sender = Settings.email_from


class DuplicateConfirmation(Exception):
    """Not sent: this address was confirmed moments ago for another registration."""


class RecentAddresses:
    """With real email, one confirmation per address per window, whatever the strategy.

    The sandbox keeps the concurrent strategy's lesson (a confirmation for a registration that
    was never stored, once per duplicate); a real inbox must not get 50 emails because 50
    registrations raced. Addresses are kept hashed, in this process, bounded.
    """

    def __init__(self, window_s: float = 3600, max_size: int = 100_000) -> None:
        self.window_s, self.max_size = window_s, max_size
        self._sent: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def claim(self, runner: Runner) -> None:
        """Raise `DuplicateConfirmation` if another registration holds the address."""
        key = hashlib.sha256(runner.email.strip().lower().encode()).hexdigest()
        now = time.monotonic()
        while self._sent and next(iter(self._sent.values()))[1] < now - self.window_s:
            self._sent.popitem(last=False)
        held = self._sent.get(key)
        if held and held[0] != str(runner.id):
            raise DuplicateConfirmation(f"runner {runner.id}: address confirmed recently")
        self._sent[key] = (str(runner.id), now)
        self._sent.move_to_end(key)
        while len(self._sent) > self.max_size:
            self._sent.popitem(last=False)

    def release(self, runner: Runner) -> None:
        """The send failed: another registration of the address may try."""
        key = hashlib.sha256(runner.email.strip().lower().encode()).hexdigest()
        if self._sent.get(key, ("",))[0] == str(runner.id):
            del self._sent[key]


_recent: RecentAddresses | None = None  # set by `configure` with real email only


def configure(settings: Settings) -> None:
    """Point the SDK at the sandbox or at Resend (module-level settings, read on every call)."""
    global _sender
    resend.api_key = settings.email_api_key
    resend.api_url = settings.email_api_url
    resend.default_async_http_client = (
        KnobForwardingClient() if settings.uses_sandbox else HTTPXClient()
    )
    _sender = settings.email_from
    global _recent
    _recent = None if settings.uses_sandbox else RecentAddresses()


def message(runner: Runner) -> dict[str, Any]:
    distance = DISTANCE_NAMES[runner.distance]
    name = html.escape(runner.first_name)
    return {
        "from": _sender,
        "to": [runner.email],
        "subject": f"You're registered for the {distance}",
        "html": f"<p>Hi {name},</p><p>You're registered for the {distance}. See you there!</p>",
        "text": f"Hi {runner.first_name},\n\nYou're registered for the {distance}. See you there!",
        "tags": [{"name": "runner_id", "value": str(runner.id)}],
    }


async def send_confirmation(runner: Runner) -> str:
    """Send the confirmation; returns the email id. Raises `resend.exceptions.ResendError`."""
    with work_span(EMAIL_SPAN, attributes={RUNNER_ATTR: str(runner.id)}) as span:
        recent = _recent
        if recent:
            recent.claim(runner)
        # The runner id is the idempotency key: a retry can never send a second email.
        try:
            sent = await resend.Emails.send_async(
                message(runner),  # type: ignore[arg-type]
                {"idempotency_key": str(runner.id)},
            )
        except BaseException:
            if recent:
                recent.release(runner)
            raise
        span.set_attribute("marathon.email_id", sent["id"])
        return str(sent["id"])
