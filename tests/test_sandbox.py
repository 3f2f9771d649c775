"""The Resend sandbox, driven by the real `resend` SDK and by plain HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import resend
from resend.exceptions import ResendError

from marathon import knobs
from marathon.local.stack import ThreadedServer
from marathon.service import email
from marathon.service.settings import Settings

pytestmark = pytest.mark.anyio

MESSAGE: dict[str, Any] = {
    "from": "Marathon <registrations@marathon.test>",
    "to": ["runner@example.com"],
    "subject": "Hello",
    "text": "hi",
}


@pytest.fixture
def sdk(sandbox: ThreadedServer) -> None:
    email.configure(Settings(resend_api_url=sandbox.url, email_sandbox=True))


def _post(sandbox: ThreadedServer, body: Any, **headers: str) -> httpx.Response:
    headers = {"authorization": "Bearer re_test", **headers}
    return httpx.post(f"{sandbox.url}/emails", json=body, headers=headers)


def test_auth_is_required_and_shaped_like_resend(sandbox: ThreadedServer) -> None:
    r = httpx.post(f"{sandbox.url}/emails", json=MESSAGE)
    assert r.status_code == 401 and r.json()["name"] == "missing_api_key"
    r = _post(sandbox, MESSAGE, authorization="Bearer nope")
    assert r.status_code == 403 and r.json()["name"] == "invalid_api_key"
    assert r.json()["statusCode"] == 403


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"to": None}, "missing_required_field"),
        ({"subject": ""}, "missing_required_field"),
        ({"to": ["not an address"]}, "validation_error"),
        ({"from": "nobody"}, "validation_error"),
        ({"to": [f"r{i}@example.com" for i in range(51)]}, "validation_error"),
    ],
)
def test_validation_errors_are_422_and_do_not_quote_addresses(
    sandbox: ThreadedServer, change: dict[str, Any], name: str
) -> None:
    r = _post(sandbox, {**MESSAGE, **change})
    assert r.status_code == 422 and r.json()["name"] == name
    assert "not an address" not in r.text and "nobody" not in r.text


async def test_the_sdk_sends_and_reads_back(sandbox: ThreadedServer, sdk: None) -> None:
    sent = await resend.Emails.send_async(MESSAGE)  # type: ignore[arg-type]
    got = resend.Emails.get(sent["id"])
    assert got["subject"] == "Hello" and got["last_event"] == "delivered"


async def test_idempotency_follows_resend(sandbox: ThreadedServer, sdk: None) -> None:
    key = {"idempotency_key": "runner-42"}
    first = await resend.Emails.send_async(MESSAGE, key)  # type: ignore[arg-type]
    again = await resend.Emails.send_async(MESSAGE, key)  # type: ignore[arg-type]
    assert again["id"] == first["id"], "same key and payload: the first response, nothing sent"
    outbox = httpx.get(f"{sandbox.url}/outbox", params={"idempotency_key": "runner-42"}).json()
    assert outbox["count"] == 1
    with pytest.raises(ResendError) as e:
        await resend.Emails.send_async({**MESSAGE, "subject": "Other"}, key)  # type: ignore[arg-type]
    assert e.value.code == 409 and e.value.error_type == "invalid_idempotent_request"


async def test_concurrent_requests_with_one_key_conflict(sandbox: ThreadedServer) -> None:
    headers = {
        "authorization": "Bearer re_test",
        "idempotency-key": "same-time",
        knobs.HEADER: "email_latency_ms=200, email_latency_spread=0",
    }
    async with httpx.AsyncClient(base_url=sandbox.url) as c:
        a, b = await asyncio.gather(
            c.post("/emails", json=MESSAGE, headers=headers),
            c.post("/emails", json=MESSAGE, headers=headers),
        )
    assert sorted([a.status_code, b.status_code]) == [200, 409]
    assert "concurrent_idempotent_requests" in (a.text + b.text)


async def test_failure_knob_fails_and_is_not_remembered(sandbox: ThreadedServer) -> None:
    headers = {"idempotency-key": "flaky", knobs.HEADER: "email_failure_rate=1"}
    r = _post(sandbox, MESSAGE, **headers)
    assert r.status_code == 500 and r.json()["name"] == "application_error"
    r = _post(sandbox, MESSAGE, **{"idempotency-key": "flaky"})
    assert r.status_code == 200, "a failed attempt stores nothing: the retry goes through"


async def test_a_client_that_hangs_up_before_acceptance_sends_nothing(
    sandbox: ThreadedServer,
) -> None:
    headers = {
        "authorization": "Bearer re_test",
        "idempotency-key": "hang-up",
        knobs.HEADER: "email_latency_ms=500, email_latency_spread=0",
    }
    async with httpx.AsyncClient(base_url=sandbox.url) as c:
        with pytest.raises(httpx.TimeoutException):
            await c.post("/emails", json=MESSAGE, headers=headers, timeout=0.1)
    await asyncio.sleep(0.6)
    outbox = httpx.get(f"{sandbox.url}/outbox", params={"idempotency_key": "hang-up"}).json()
    assert outbox["count"] == 0


def test_the_outbox_page_lists_emails(sandbox: ThreadedServer) -> None:
    _post(sandbox, {**MESSAGE, "subject": "Page <check>"})
    page = httpx.get(f"{sandbox.url}/")
    assert page.headers["content-type"].startswith("text/html")
    assert "Page &lt;check&gt;" in page.text


def test_a_bad_knobs_header_is_rejected(sandbox: ThreadedServer) -> None:
    r = _post(sandbox, MESSAGE, **{knobs.HEADER: "email_failure_rate=2"})
    assert r.status_code == 422 and "email_failure_rate" in r.json()["message"]


def test_unknown_email_is_404(sandbox: ThreadedServer) -> None:
    r = httpx.get(f"{sandbox.url}/emails/nope", headers={"authorization": "Bearer re_x"})
    assert r.status_code == 404 and r.json()["name"] == "not_found"
