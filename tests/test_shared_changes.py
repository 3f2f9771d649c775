"""Shared changes need the instructor beyond loopback; scenarios run one at a time, restore
what they changed, and run their own servers in processes of their own."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from litestar import Litestar

from marathon import knobs
from marathon.app import create_app
from marathon.lab import scenario_runner
from marathon.local.stack import ThreadedServer
from marathon.service.settings import Settings
from tests.conftest import share


async def _client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c,
    ):
        yield c


@pytest.fixture
async def public_without_token(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(create_app(settings.with_(bind_host="0.0.0.0"))):
        yield c


@pytest.fixture
async def public_with_token(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.with_(bind_host="0.0.0.0", admin_token="s3cret"))
    async for c in _client(app):
        yield c


SHARED_CHANGES = [
    ("PUT", "/api/knobs", {"email_outage": "on"}),
    ("DELETE", "/api/knobs", None),
    ("POST", "/api/scenarios/happy", None),
    ("POST", "/api/queue/retry-dead", None),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("method", "path", "body"), SHARED_CHANGES)
async def test_a_public_server_without_a_token_refuses_and_says_how_to_set_one(
    public_without_token: httpx.AsyncClient, method: str, path: str, body: object
) -> None:
    r = await public_without_token.request(method, path, json=body)
    assert r.status_code == 403, r.text
    assert "MARATHON_ADMIN_TOKEN=" in r.json()["detail"]
    assert knobs.defaults() == knobs.Knobs(), "nothing changed"


@pytest.mark.anyio
@pytest.mark.parametrize(("method", "path", "body"), SHARED_CHANGES)
async def test_a_public_server_needs_the_instructors_token(
    public_with_token: httpx.AsyncClient, method: str, path: str, body: object
) -> None:
    for auth in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
        r = await public_with_token.request(method, path, json=body, headers=auth)
        assert r.status_code == 401, (auth, r.text)
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert knobs.defaults() == knobs.Knobs(), "nothing changed"
    if method != "POST" or "scenarios" not in path:  # a scenario run is tested below
        r = await public_with_token.request(
            method, path, json=body, headers={"Authorization": "Bearer s3cret"}
        )
        assert r.status_code in (200, 201), r.text
    # Reading stays open to everyone.
    assert (await public_with_token.get("/api/knobs")).status_code == 200


@pytest.fixture
def api(settings: Settings) -> Iterator[ThreadedServer]:
    share(queue_retry_base_s=0.1)  # the queued run's retries after the outage come quickly
    with ThreadedServer(create_app(settings, run_scenario=scenario_runner.for_server)) as server:
        yield server


def test_scenarios_run_one_at_a_time_and_restore_the_knobs(api: ThreadedServer) -> None:
    def run() -> httpx.Response:
        return httpx.post(f"{api.url}/api/scenarios/email-outage", timeout=120)

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(run)
        while not first.done() and knobs.defaults().email_outage == "off":
            pass  # until the first has set its fault
        second = pool.submit(run).result()
        assert first.result().status_code == 200, first.result().text
    assert second.status_code == 409, second.text
    assert "'email-outage' is running" in second.json()["detail"]
    assert (
        httpx.get(f"{api.url}/api/knobs").json()["knobs"]
        == knobs.Knobs(queue_retry_base_s=0.1).as_dict()
    ), "exactly what it changed is back"


def test_a_failing_scenario_restores_what_it_changed(
    api: ThreadedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        assert knobs.defaults().email_outage == "on"
        raise RuntimeError("the network went away")

    monkeypatch.setattr(scenario_runner, "register", broken)
    with pytest.raises(RuntimeError, match="network"):
        scenario_runner.run(scenario_runner.SCENARIOS["email-outage"], api.url)
    assert knobs.defaults().email_outage == "off"


def test_no_route_imports_the_app_factory() -> None:
    code = "import sys, marathon.routes; assert 'marathon.app' not in sys.modules, 'imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.anyio
async def test_the_page_loads_marathon_fetch(client: httpx.AsyncClient) -> None:
    page = (await client.get("/")).text
    assert '<script src="/static/admin.js" defer></script>' in page
    assert page.index("/static/admin.js") < page.index("/static/app.js"), "defined first"
    script = await client.get("/static/admin.js")
    assert script.status_code == 200 and "window.marathonFetch = async function" in script.text


@pytest.mark.anyio
async def test_the_room_says_which_steps_a_learner_watches(
    public_with_token: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    """Beyond loopback a learner (no token) watches the steps that change shared state; the
    instructor's token runs them all; on loopback everyone is the instructor."""
    from marathon.views.lesson_steps import STEPS

    shared = [i for i, s in enumerate(STEPS, 1) if "scenario" in s.run or "shared" in s.run]
    learner = (await public_with_token.get("/api/lesson/room")).json()
    assert learner["watch_steps"] == shared == [3, 4, 5, 6, 7]
    assert learner["instructor"] is False and learner["shared_changes"] == "instructor"
    assert "The instructor runs this step" in learner["notice"]
    bearer = {"Authorization": "Bearer s3cret"}
    instructor = (await public_with_token.get("/api/lesson/room", headers=bearer)).json()
    assert instructor["instructor"] is True and instructor["watch_steps"] == []
    assert (await client.get("/api/lesson/room")).json()["watch_steps"] == []
    # The page embeds the learner's view: no token prompt before the first run.
    page = (await public_with_token.get("/lesson/3")).text
    assert '"watch_steps": [3, 4, 5, 6, 7]' in page


@pytest.mark.anyio
async def test_only_the_instructor_publishes_a_steps_result(
    public_with_token: httpx.AsyncClient,
) -> None:
    runner_id = "0f3c9a1e-2b4d-4c6e-8a0b-1d2e3f405162"
    outcome = {
        "strategy": "queued",
        "status": 202,
        "stored": True,
        "email": "ada@example.com",
        "id": runner_id,
    }
    body = {"outcomes": [outcome]}
    r = await public_with_token.put("/api/lesson/3/result", json=body)
    assert r.status_code == 401, r.text
    assert (await public_with_token.get("/api/lesson/3/result")).status_code == 404
    bearer = {"Authorization": "Bearer s3cret"}
    r = await public_with_token.put("/api/lesson/3/result", json=body, headers=bearer)
    assert r.status_code == 200, r.text
    latest = (await public_with_token.get("/api/lesson/3/result")).json()
    assert latest["step"] == 3
    assert latest["outcomes"] == [
        {"strategy": "queued", "status": 202, "stored": True, "id": "0f3c9a1e…"}
    ], "only the lesson's facts are kept: no address, and the runner id as others may see it"
    r = await public_with_token.put("/api/lesson/9/result", json=body, headers=bearer)
    assert r.status_code == 404


def test_a_published_result_streams_to_the_room(settings: Settings) -> None:
    app = create_app(settings.with_(bind_host="0.0.0.0", admin_token="s3cret"))
    with ThreadedServer(app) as server:
        bearer = {"Authorization": "Bearer s3cret"}
        body = {"outcomes": [{"strategy": "sequential", "status": 201}]}
        with httpx.stream("GET", f"{server.url}/api/lesson/results/events", timeout=10) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            put = httpx.put(f"{server.url}/api/lesson/4/result", json=body, headers=bearer)
            assert put.status_code == 200, put.text
            lines = r.iter_lines()
            event = next(line for line in lines if line.startswith("event:"))
            data = next(line for line in lines if line.startswith("data:"))
    assert event == "event: result"
    assert json.loads(data.removeprefix("data:"))["outcomes"] == body["outcomes"]
