"""The confirmation email, sent through the real Resend SDK (to the sandbox by default)."""

from __future__ import annotations

import asyncio
import hashlib
import html
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
import resend
from resend.http_client_async import AsyncHTTPClient

from marathon import knobs, tracing
from marathon.registration import Runner
from marathon.service.settings import Settings
from marathon.service.transport import AiohttpTransport
from marathon.tracing import EMAIL_SPAN, RUNNER_ATTR, work_span

__all__ = [
    "DuplicateConfirmation",
    "KnobForwardingClient",
    "PooledClient",
    "configure",
    "connections",
    "send_confirmation",
]

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


# One client per event loop, bounded: enough connections for a burst of background sends,
# idle ones closed before uvicorn's 5 s keep-alive would close them under us.
POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100, keepalive_expiry=4)
# 30 s for each call once it has a connection; waiting for one is not bounded here: what may
# wait is bounded by `wait_until_max_pending` (and a worker's concurrency).
TIMEOUT = httpx.Timeout(30.0, pool=None)
_TIMEOUT_EXTENSION = {"timeout": TIMEOUT.as_dict()}


@dataclass
class _LoopClient:
    transport: AiohttpTransport = field(default_factory=lambda: AiohttpTransport(POOL_LIMITS))
    client: httpx.AsyncClient = field(init=False)
    # Callers wait for a connection here, not in the transport's pool: a pool may rescan its
    # queue of waiting requests on every change (httpcore's did: 2,000 pending emails slowed
    # the server to ~12 req/s); an asyncio.Semaphore wakes one waiter in O(1).
    gate: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(POOL_LIMITS.max_connections or 100)
    )
    users: int = 0  # open() blocks holding it
    in_flight: int = 0
    closing: bool = False

    def __post_init__(self) -> None:
        client = httpx.AsyncClient(timeout=TIMEOUT, transport=self.transport)
        self.client = tracing.instrument_http_client(client)  # wraps this very transport

    async def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Straight to the client's transport, which the httpx instrumentation traces. The
        client's own layers (auth, redirects, cookies, event hooks) do nothing the SDK asks
        for, and cost about 0.4 ms of CPU per email."""
        request = httpx.Request(method, url, extensions=_TIMEOUT_EXTENSION, **kwargs)
        response = await self.transport.handle_async_request(request)
        await response.aread()
        return response

    async def close_when_idle(self) -> None:
        # A call still running (a bare create_task's email at shutdown) keeps the client until
        # it ends or the loop cancels it: closing under it would turn "cancelled" into "failed".
        self.closing = True
        if not self.in_flight:
            await self.client.aclose()


class PooledClient(AsyncHTTPClient):
    """The SDK's HTTP client on one long-lived `httpx.AsyncClient` per event loop.

    The SDK's own `HTTPXClient` opens a new `httpx.AsyncClient` for every email: an SSL
    context (certifi loaded, even for plain http) and a new connection each time, about 17 ms
    of CPU per email. Here the SDK still builds every request; only the client is reused, and
    it sends over aiohttp's connection pool (`marathon.service.transport`: half the CPU).
    `open()` (the app's lifespan, a worker) owns the client of its loop; a call on a loop with
    no open client gets a short-lived one, as the SDK would.
    """

    # A client belongs to the loop that made it (its connections do): tests and threaded
    # servers run apps on several loops in one process. Shared by every instance, so that
    # `configure()` may swap the instance while a lifespan holds its loop's client.
    _loops: ClassVar[dict[asyncio.AbstractEventLoop, _LoopClient]] = {}

    def client(self) -> httpx.AsyncClient | None:
        """The open client of the running loop, if any."""
        entry = self._loops.get(asyncio.get_running_loop())
        return entry.client if entry else None

    @asynccontextmanager
    async def open(self) -> AsyncIterator[httpx.AsyncClient]:
        """Own (or share, counted) this loop's client until the block ends; then close it."""
        loop = asyncio.get_running_loop()
        entry = self._loops.setdefault(loop, _LoopClient())
        entry.users += 1
        try:
            yield entry.client
        finally:
            entry.users -= 1
            if not entry.users:
                del self._loops[loop]
                await entry.close_when_idle()

    def extra_headers(self) -> dict[str, str]:
        return {}

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        json: Any = None,
        files: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        headers = {**headers, **self.extra_headers()}
        body: dict[str, Any] = (
            {"files": files, "data": data}
            if files is not None
            else {"json": json if data is None else None, "data": data}
        )
        entry = self._loops.get(asyncio.get_running_loop())
        try:
            if entry is None:
                once = _LoopClient()
                async with once.client:
                    resp = await once.send(method, url, headers=headers, **body)
            else:
                entry.in_flight += 1
                try:
                    async with entry.gate:
                        resp = await entry.send(method, url, headers=headers, **body)
                finally:
                    entry.in_flight -= 1
                    if entry.closing and not entry.in_flight:
                        await entry.client.aclose()
        except httpx.RequestError as e:
            # What the SDK's client raises: the SDK turns it into a ResendError.
            raise RuntimeError(f"Request failed: {e}") from e
        return resp.content, resp.status_code, resp.headers


class KnobForwardingClient(PooledClient):
    """The pooled client, plus the request's email knobs for the sandbox.

    The API owns the knobs (environment, run-time changes, per-request header); the sandbox,
    like a real email API, has no way to know them unless each call says so.
    """

    def extra_headers(self) -> dict[str, str]:
        return {knobs.HEADER: knobs.format_overrides(knobs.current(), SANDBOX_KNOBS)}


_sender = Settings.email_from
_client: PooledClient = PooledClient()


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
    """Point the SDK at the sandbox or at Resend (module-level settings, read on every call).

    Then run the sending code inside `async with email.connections():` for one shared client.
    """
    global _sender, _client
    resend.api_key = settings.email_api_key
    resend.api_url = settings.email_api_url
    _client = KnobForwardingClient() if settings.uses_sandbox else PooledClient()
    resend.default_async_http_client = _client
    _sender = settings.email_from
    global _recent
    _recent = None if settings.uses_sandbox else RecentAddresses()


def connections() -> AbstractAsyncContextManager[httpx.AsyncClient]:
    """The long-lived HTTP client of this event loop, open for the block (lifespan, worker)."""
    return _client.open()


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
