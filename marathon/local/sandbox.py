"""A Resend-compatible sandbox: the external email API a laptop workshop cannot reach.

It speaks enough of Resend's API for the real SDK: `POST /emails` (Bearer auth, validation,
Resend-shaped errors, `Idempotency-Key` semantics) and `GET /emails/{id}`; and it keeps an
outbox (`GET /outbox` as JSON, `GET /` as a page) so learners can check what was delivered.

It plays out the email knobs: the API forwards its knobs with every call in the `Marathon-Knobs`
header (without it, the sandbox's own environment applies). Latency is the time until the email
is accepted: a client that hangs up before then has sent nothing, as with a real network.

Bound beyond loopback (the compose stack), the outbox holds every runner's address: its
changes (`DELETE /outbox`) need the instructor's token (`marathon.service.instructor`), and
others see it masked (`marathon.service.privacy`). The same guard as the API's refuses other
sites' pages (`marathon.service.same_origin`).
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import random
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from litestar import Litestar, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.logging.config import LoggingConfig
from litestar.params import FromPath, FromQuery
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from marathon import knobs, tracing
from marathon.service import delay, privacy, same_origin
from marathon.service.instructor import is_instructor, require_admin
from marathon.service.settings import Settings

__all__ = ["Outbox", "create_sandbox"]

SERVICE_NAME = "resend-sandbox"
FAILURES = {
    500: "application_error",
    503: "service_unavailable",
    429: "rate_limit_exceeded",
    422: "validation_error",
}
_ADDRESS = re.compile(r"^(?:[^<>]*<)?\s*[^@\s<>]+@[^@\s<>]+\.[^@\s<>.]+\s*>?$")


@dataclass
class Outbox:
    """Delivered emails and the idempotency records of a sandbox."""

    emails: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Idempotency-Key -> (fingerprint of the payload, the response body first given)
    keys: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    in_progress: set[str] = field(default_factory=set)
    calls: dict[str, int] = field(default_factory=dict)  # Idempotency-Key -> calls seen


def _error(
    status: int, name: str, message: str, headers: dict[str, str] | None = None
) -> Response[dict[str, Any]]:
    body = {"statusCode": status, "name": name, "message": message}
    return Response(body, status_code=status, headers=headers)


def _check_auth(request: Request[Any, Any, State]) -> Response[dict[str, Any]] | None:
    auth = request.headers.get("authorization", "")
    if not auth.strip():
        return _error(401, "missing_api_key", "Missing API key in the authorization header.")
    scheme, _, key = auth.partition(" ")
    expected = request.app.state.api_key
    if scheme.lower() != "bearer" or not key.startswith("re_") or (expected and key != expected):
        return _error(403, "invalid_api_key", "API key is invalid.")
    return None


def _validate(body: Any) -> Response[dict[str, Any]] | None:
    if not isinstance(body, dict):
        return _error(422, "validation_error", "The request body must be a JSON object.")
    for name in ("from", "to", "subject"):
        if not body.get(name):
            return _error(422, "missing_required_field", f"Missing `{name}` field.")
    to = body["to"] if isinstance(body["to"], list) else [body["to"]]
    if not 1 <= len(to) <= 50:
        return _error(422, "validation_error", "The `to` field must have 1 to 50 addresses.")
    # Messages never quote the address: they end up in logs.
    for name, values in (("from", [body["from"]]), ("to", to)):
        if not all(isinstance(v, str) and _ADDRESS.match(v) for v in values):
            return _error(
                422,
                "validation_error",
                f"Invalid `{name}` field. The email address needs to follow the "
                "`email@example.com` or `Name <email@example.com>` format.",
            )
    if not isinstance(body["subject"], str):
        return _error(422, "validation_error", "The `subject` field must be a string.")
    return None


async def _accepted_before_hangup(request: Request[Any, Any, State], seconds: float) -> bool:
    """Sleep `seconds`, unless the client disconnects first (then False)."""
    if seconds <= 0:  # accepted at once: no time to hang up in (and no two tasks to race)
        return True
    sleep = asyncio.ensure_future(asyncio.sleep(seconds))
    hangup = asyncio.ensure_future(request.receive())  # the body is read: next is a disconnect
    done, pending = await asyncio.wait({sleep, hangup}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return sleep in done


@post("/emails", status_code=200)
async def send_email(request: Request[Any, Any, State], state: State) -> Response[dict[str, Any]]:
    if denied := _check_auth(request):
        return denied
    try:
        body = await request.json()
    except Exception:
        return _error(422, "validation_error", "The request body is not valid JSON.")
    if invalid := _validate(body):
        return invalid
    try:
        k = state.knobs.replace(knobs.parse_overrides(request.headers.get(knobs.HEADER, "")))
    except knobs.KnobError as e:
        return _error(422, "validation_error", f"Invalid {knobs.HEADER} header: {e}")

    outbox: Outbox = state.outbox
    key = request.headers.get("idempotency-key")
    fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    if key is not None:
        if not 1 <= len(key) <= 256:
            return _error(422, "validation_error", "The idempotency key must be 1-256 characters.")
        if key in outbox.in_progress:
            return _error(
                409,
                "concurrent_idempotent_requests",
                "Same idempotency key used while original request is still in progress.",
            )
        if key in outbox.keys:
            first_fingerprint, first_response = outbox.keys[key]
            if first_fingerprint != fingerprint:
                return _error(
                    409,
                    "invalid_idempotent_request",
                    "Same idempotency key used with a different request payload.",
                )
            return Response(first_response, status_code=200)  # replay: nothing sent again
        outbox.in_progress.add(key)

    span = trace.get_current_span()
    try:
        # Simulated network and processing time of an email API.
        seconds = delay.sample_ms(k.email_latency_ms, k.email_latency_spread) / 1000
        if not await _accepted_before_hangup(request, seconds):
            span.set_status(
                Status(StatusCode.ERROR, "client hung up before the email was accepted")
            )
            return _error(499, "client_closed_request", "The client closed the request.")
        if key is not None:
            outbox.calls[key] = outbox.calls.get(key, 0) + 1
            if outbox.calls[key] <= k.email_fail_first:  # knob email_fail_first: flaky at first
                status = int(k.email_fail_with)
                name = FAILURES[status]
                headers = {"Retry-After": f"{k.email_retry_after_s:g}"} if status == 429 else None
                return _error(status, name, f"Simulated failure {outbox.calls[key]}.", headers)
        if k.email_outage == "on":  # knob email_outage: the whole API is down
            return _error(503, "service_unavailable", "Simulated outage of the email API.")
        if random.random() < k.email_rate_limit_rate:  # knob email_rate_limit_rate
            headers = {"Retry-After": f"{k.email_retry_after_s:g}", "ratelimit-remaining": "0"}
            return _error(429, "rate_limit_exceeded", "Too many requests (simulated).", headers)
        if random.random() < k.email_failure_rate:
            # Simulated failure (MARATHON_EMAIL_FAILURE_RATE); not stored, so a retry may succeed.
            return _error(500, "application_error", "Simulated failure of the email API.")
        email_id = str(uuid.uuid4())
        outbox.emails[email_id] = {
            "object": "email",
            "id": email_id,
            "from": body["from"],
            "to": body["to"] if isinstance(body["to"], list) else [body["to"]],
            "subject": body["subject"],
            "html": body.get("html"),
            "text": body.get("text"),
            "tags": body.get("tags") or [],
            "idempotency_key": key,
            "created_at": datetime.now(UTC).isoformat(),
            "last_event": "delivered",
        }
        response = {"id": email_id}
        if key is not None:
            outbox.keys[key] = (fingerprint, response)
        return Response(response, status_code=200)
    finally:
        if key is not None:
            outbox.in_progress.discard(key)


@get("/emails/{email_id:str}")
async def get_email(
    request: Request[Any, Any, State], state: State, email_id: FromPath[str]
) -> Response[dict[str, Any]]:
    if denied := _check_auth(request):
        return denied
    email = state.outbox.emails.get(email_id)
    if email is None:
        return _error(404, "not_found", "Email not found.")
    if not (is_instructor(request) or state.api_key):  # any `re_` key is no secret
        return Response(
            {k: v for k, v in privacy.outbox_entry(email).items() if k != "idempotency_key"}
        )
    return Response({k: v for k, v in email.items() if k != "idempotency_key"})


def _outbox_list(
    request: Request[Any, Any, State], idempotency_key: str | None
) -> list[dict[str, Any]]:
    """Newest first; masked unless the instructor asks (`privacy`)."""
    emails = reversed(list(request.app.state.outbox.emails.values()))
    found = [
        e for e in emails if idempotency_key is None or e["idempotency_key"] == idempotency_key
    ]
    return found if is_instructor(request) else [privacy.outbox_entry(e) for e in found]


@get("/outbox")
async def outbox_json(
    request: Request[Any, Any, State], idempotency_key: FromQuery[str | None] = None
) -> dict[str, Any]:
    """Delivered emails, newest first; `?idempotency_key=` narrows to one registration."""
    emails = _outbox_list(request, idempotency_key)
    return {"object": "list", "count": len(emails), "data": emails}


@delete("/outbox", status_code=204)
async def clear_outbox(request: Request[Any, Any, State], state: State) -> None:
    require_admin(request)
    state.outbox.emails.clear()
    state.outbox.keys.clear()


@get("/", media_type="text/html")
async def outbox_page(request: Request[Any, Any, State], state: State) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(e['created_at'][11:23])}</td><td>{html.escape(', '.join(e['to']))}"
        f"</td><td>{html.escape(e['subject'])}</td><td><code>{html.escape(e['id'])}</code></td></tr>"
        for e in _outbox_list(request, None)
    )
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Resend sandbox outbox</title>"
        "<style>body{font:16px system-ui;margin:2rem}td,th{padding:.3rem .8rem;text-align:left}"
        "tr:nth-child(even){background:#f3f3f3}</style><h1>Resend sandbox outbox</h1>"
        f"<p>{len(state.outbox.emails)} email(s) delivered. JSON: <a href=/outbox>/outbox</a></p>"
        "<table><thead><tr><th>time (UTC)</th><th>to</th><th>subject</th><th>id</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></html>"
    )


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def create_sandbox(
    *,
    defaults: knobs.Knobs | None = None,
    api_key: str | None = None,
    traced: bool | None = None,
    bind_host: str = "127.0.0.1",
) -> Litestar:
    """The sandbox app. `api_key` set: only that key is accepted; else any `re_...` key.
    `traced` defaults to whether tracing is on (`tracing.enabled()`). `bind_host`: where it
    listens; beyond loopback its outbox is the instructor's (`MARATHON_ADMIN_TOKEN`)."""
    settings = Settings.from_env().with_(bind_host=bind_host)
    plugins = []
    if tracing.enabled() if traced is None else traced:
        config = OpenTelemetryConfig(
            tracer_provider=tracing.provider_for(SERVICE_NAME),
            exclude_spans=["receive", "send"],
            scope_span_details_extractor=tracing.route_span_details,
            exclude=["^/outbox", "^/health", "^/$"],
        )
        plugins.append(OpenTelemetryPlugin(config))
    return Litestar(
        route_handlers=[send_email, get_email, outbox_json, clear_outbox, outbox_page, health],
        state=State(
            {
                "outbox": Outbox(),
                "knobs": defaults or knobs.from_env(),
                "api_key": api_key,
                "settings": settings,
            }
        ),
        middleware=[same_origin.guard(settings)],
        # Leave the root logger to the command line (Litestar would install its own format).
        logging_config=LoggingConfig(configure_root_logger=False),
        plugins=plugins,
        request_max_body_size=1_000_000,
    )
