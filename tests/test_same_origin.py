"""A web page cannot drive a local server: cross-site changes and DNS rebinding are refused
(`marathon.service.same_origin`) before anything changes, and the server's own page and
marathon's own processes still work."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from marathon import knobs
from marathon.app import create_app
from marathon.local.stack import ThreadedServer
from marathon.service import fake
from marathon.service.same_origin import refusal
from marathon.service.settings import Settings
from tests.conftest import share

EVIL = "https://evil.example"


@pytest.fixture
def api(settings: Settings) -> Iterator[ThreadedServer]:
    with ThreadedServer(create_app(settings)) as server:
        yield server


def _dead_letter(api: ThreadedServer) -> str:
    share(queue_max_attempts=1, email_outage="on")
    r = httpx.post(
        f"{api.url}/api/marathon/queued",
        json=fake.runner(),
        headers={"Marathon-Knobs": "email_latency_ms=5, db_latency_ms=0"},
    )
    assert r.status_code == 202, r.text
    runner_id: str = r.json()["id"]
    deadline = time.monotonic() + 30
    while _state(api, runner_id) != "dead":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    share(email_outage="off")
    return runner_id


def _state(api: ThreadedServer, runner_id: str) -> str:
    state: str = httpx.get(f"{api.url}/api/registrations/{runner_id}").json()["email"]["state"]
    return state


@pytest.mark.parametrize(
    "headers",
    [{"Origin": EVIL}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}],
    ids=["origin", "opaque-origin", "sec-fetch-site"],
)
def test_a_cross_site_post_puts_no_dead_letter_back(
    api: ThreadedServer, headers: dict[str, str]
) -> None:
    """A "simple" POST any page can send without a preflight: refused, the letter stays dead."""
    runner_id = _dead_letter(api)
    r = httpx.post(f"{api.url}/api/queue/retry-dead", headers=headers)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"] == "application/json"
    assert "another" in r.json()["detail"]
    time.sleep(0.3)  # a retried letter would be sent by now (5 ms of email latency)
    assert _state(api, runner_id) == "dead"

    # The server's own page (a browser sends its Origin with every POST) may.
    own = {"Origin": api.url, "Sec-Fetch-Site": "same-origin"}
    r = httpx.post(f"{api.url}/api/queue/retry-dead", headers=own)
    assert r.status_code == 200 and r.json()["retried"] >= 1, r.text


def test_a_rebound_name_neither_reads_nor_changes(api: ThreadedServer) -> None:
    """DNS rebinding: the attacker's name now resolves to 127.0.0.1; its Host is refused."""
    before = knobs.defaults()
    evil = {"Host": f"evil.example:{api.port}"}
    r = httpx.put(f"{api.url}/api/knobs", json={"email_outage": "on"}, headers=evil)
    assert r.status_code == 421, r.text
    assert "rebinding" in r.json()["detail"]
    assert knobs.defaults() == before
    assert httpx.get(f"{api.url}/registrations", headers=evil).status_code == 421

    for name in ("127.0.0.1", "localhost", "app.localhost"):
        r = httpx.get(f"{api.url}/api/knobs", headers={"Host": f"{name}:{api.port}"})
        assert r.status_code == 200, (name, r.text)


def test_the_allowed_names_and_a_public_bind(settings: Settings) -> None:
    allowed = settings.with_(allowed_hosts=("class.example",))
    assert refusal(allowed, "GET", {"host": "class.example:8000"}) is None
    assert refusal(allowed, "GET", {"host": "evil.example:8000"})
    # Beyond loopback, any name by default: the token and the masking govern it there.
    public = settings.with_(bind_host="0.0.0.0")
    assert refusal(public, "GET", {"host": "class.example:8000"}) is None
    assert refusal(public.with_(allowed_hosts=("a.example",)), "GET", {"host": "b.example"})
    # ...but a change from another site's page is still refused.
    assert refusal(public, "POST", {"host": "class.example", "origin": EVIL})


@pytest.mark.parametrize(
    ("host", "origin", "refused"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000", False),
        ("localhost:8000", "http://localhost:8000", False),
        ("[::1]:8000", "http://[::1]:8000", False),
        ("127.0.0.1", "http://127.0.0.1:80", False),
        ("class.example", "https://class.example", False),  # behind a TLS proxy
        ("127.0.0.1:8000", "http://localhost:8000", True),  # another origin
        ("127.0.0.1:8000", "http://127.0.0.1:8025", True),  # the sandbox's page, say
        ("127.0.0.1:8000", "http://127.0.0.1:8000.evil.example", True),
        ("127.0.0.1:8000", "null", True),
    ],
)
def test_which_origin_is_the_servers_own(
    settings: Settings, host: str, origin: str, refused: bool
) -> None:
    allowed = settings.with_(allowed_hosts=("class.example",))
    result = refusal(allowed, "PUT", {"host": host, "origin": origin})
    assert (result is not None) == refused, result
    assert refusal(allowed, "GET", {"host": host, "origin": origin}) is None  # reading
