"""What a learner sees of others (`marathon.service.privacy`): beyond loopback without the
instructor's token, no full address, domain or runner id, and the sandbox's outbox is the
instructor's to clear."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from marathon.app import create_app
from marathon.local.sandbox import create_sandbox
from marathon.local.stack import ThreadedServer
from marathon.service import fake
from marathon.service.settings import Settings

TOKEN = {"Authorization": "Bearer s3cret"}
KEY = {"Authorization": "Bearer re_anything"}
ADDRESS = "ada.lovelace@secret-employer.example"


@pytest.fixture
def public_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadedServer]:
    """A sandbox that believes it listens on every interface (it serves on 127.0.0.1)."""
    monkeypatch.setenv("MARATHON_ADMIN_TOKEN", "s3cret")
    with ThreadedServer(create_sandbox(bind_host="0.0.0.0", traced=False)) as server:
        yield server


def _send(sandbox: ThreadedServer, key: str) -> str:
    email = {"from": "a@b.example", "to": [ADDRESS], "subject": "Hi", "html": "<p>Ada</p>"}
    r = httpx.post(f"{sandbox.url}/emails", json=email, headers={**KEY, "Idempotency-Key": key})
    assert r.status_code == 200, r.text
    email_id: str = r.json()["id"]
    return email_id


def test_a_public_sandbox_shows_others_a_masked_outbox(public_sandbox: ThreadedServer) -> None:
    key = "0190f0e2-1234-7abc-8def-0123456789ab"
    email_id = _send(public_sandbox, key)
    for path in ("/outbox", f"/outbox?idempotency_key={key}"):
        masked = httpx.get(f"{public_sandbox.url}{path}").json()
        assert masked["count"] == 1, path  # the API still finds a delivery by its key
        assert ADDRESS not in str(masked) and "secret-employer" not in str(masked)
        assert "Ada" not in str(masked) and key not in str(masked)
        assert masked["data"][0]["id"] == email_id
    page = httpx.get(f"{public_sandbox.url}/").text
    assert "secret-employer" not in page
    one = httpx.get(f"{public_sandbox.url}/emails/{email_id}", headers=KEY).json()
    assert "secret-employer" not in str(one) and "Ada" not in str(one), "any re_ key is no secret"

    full = httpx.get(f"{public_sandbox.url}/outbox", headers=TOKEN).json()
    assert full["data"][0]["to"] == [ADDRESS] and full["data"][0]["idempotency_key"] == key


def test_only_the_instructor_clears_a_public_sandbox(public_sandbox: ThreadedServer) -> None:
    _send(public_sandbox, "k1")
    assert httpx.delete(f"{public_sandbox.url}/outbox").status_code == 401
    assert httpx.delete(f"{public_sandbox.url}/outbox", headers=KEY).status_code == 401
    assert httpx.get(f"{public_sandbox.url}/outbox").json()["count"] == 1, "nothing cleared"
    # the idempotency keys survive too: the same key and payload is a replay, not a new email
    _send(public_sandbox, "k1")
    assert httpx.get(f"{public_sandbox.url}/outbox").json()["count"] == 1
    assert httpx.delete(f"{public_sandbox.url}/outbox", headers=TOKEN).status_code == 204
    assert httpx.get(f"{public_sandbox.url}/outbox").json()["count"] == 0


def test_a_loopback_sandbox_shows_everything(sandbox: ThreadedServer) -> None:
    _send(sandbox, "k-loopback")
    data = httpx.get(f"{sandbox.url}/outbox", params={"idempotency_key": "k-loopback"}).json()
    assert data["data"][0]["to"] == [ADDRESS] and data["data"][0]["html"] == "<p>Ada</p>"


async def _client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with (
        app.lifespan(),
        httpx.AsyncClient(  # type: ignore[attr-defined]
            transport=transport, base_url="http://127.0.0.1"
        ) as c,
    ):
        yield c


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("bind_host", "headers", "full"),
    [("127.0.0.1", {}, True), ("0.0.0.0", {}, False), ("0.0.0.0", TOKEN, True)],
    ids=["loopback", "public", "public-instructor"],
)
async def test_the_registrations_page_masks_others(
    settings: Settings, bind_host: str, headers: dict[str, str], full: bool
) -> None:
    app = create_app(settings.with_(bind_host=bind_host, admin_token="s3cret"))
    async for c in _client(app):
        body = {**fake.runner(), "email": f"grace.{fake.runner()['email']}"}
        r = await c.post(
            "/api/marathon/sequential", json=body, headers={"Marathon-Knobs": "email_latency_ms=0"}
        )
        assert r.status_code == 201, r.text
        runner_id, domain = r.json()["id"], body["email"].partition("@")[2]
        page = (await c.get("/registrations", headers=headers)).text
        assert runner_id[:8] in page
        assert (runner_id in page) == full and (f"@{domain}" in page) == full
        # the registrant holds the full id: its status stays theirs to ask
        assert (await c.get(f"/api/registrations/{runner_id}")).json()["stored"] is True
