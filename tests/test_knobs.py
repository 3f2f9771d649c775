"""Knobs: validation, the run-time API, the per-request header, MARATHON_KNOBS=off, logging."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar

from marathon import knobs
from marathon.app import create_app
from marathon.service import fake
from marathon.service.settings import Settings
from tests.conftest import QUICK, count_runners, settled, trace_id_of

pytestmark = pytest.mark.anyio


def test_parse_validate_and_format() -> None:
    assert knobs.parse_overrides(" lifecycle=Serverless ,email_outage=on,") == {
        "lifecycle": "serverless",
        "email_outage": "on",
    }
    for bad, reason in [
        ("lifecycle=lambda", "must be one of process, serverless"),
        ("db_failure_rate=1.5", "between 0 and 1"),
        ("db_latency_ms=nan", "between"),
        ("wait_until_max_pending=0", "between 1 and"),
        ("nonsense=1", "unknown knob"),
    ]:
        with pytest.raises(knobs.KnobError, match=reason):
            knobs.parse_overrides(bad)
    k = knobs.Knobs().replace({"email_latency_ms": "800", "email_outage": "on"})
    assert knobs.format_overrides(k, ("email_latency_ms", "email_outage")) == (
        "email_latency_ms=800, email_outage=on"
    )


def test_from_env_names_each_knob_and_rejects_bad_values() -> None:
    k = knobs.from_env({"MARATHON_EMAIL_LATENCY_MS": "12", "MARATHON_LIFECYCLE": "serverless"})
    assert k.email_latency_ms == 12 and k.lifecycle == "serverless"
    with pytest.raises(knobs.KnobError, match="in the environment: email_failure_rate"):
        knobs.from_env({"MARATHON_EMAIL_FAILURE_RATE": "-1"})


async def test_runtime_knobs_change_later_requests(client: httpx.AsyncClient) -> None:
    before = (await client.get("/api/knobs")).json()
    assert before["mutable"] is True and before["knobs"]["email_failure_rate"] == 0
    assert {d["name"] for d in before["describe"]} == set(before["knobs"])

    r = await client.put("/api/knobs", json={"email_failure_rate": 1, "email_latency_ms": 0})
    assert r.status_code == 200 and r.json()["knobs"]["email_failure_rate"] == 1
    r = await client.post("/api/marathon/sequential", json=fake.runner())
    assert r.status_code == 502, "the changed knob applies to the next request"

    assert (await client.delete("/api/knobs")).json()["knobs"]["email_failure_rate"] == 0
    r = await client.post(
        "/api/marathon/sequential", json=fake.runner(), headers={"Marathon-Knobs": QUICK}
    )
    assert r.status_code == 201


async def test_put_and_delete_answer_what_they_replaced(client: httpx.AsyncClient) -> None:
    """`replaced`: the previous value of each knob whose value changed, only those (a knob sent
    with the value it had is not), so putting it back undoes exactly that change."""
    default = knobs.Knobs()
    r = await client.put(
        "/api/knobs", json={"email_outage": "on", "db_latency_ms": default.db_latency_ms}
    )
    body = r.json()
    assert body["replaced"] == {"email_outage": "off"}, body["replaced"]
    assert {"knobs", "startup", "mutable", "describe"} <= set(body), "the GET view, still"
    r = await client.put("/api/knobs", json={"email_outage": "on", "db_latency_ms": 7})
    assert r.json()["replaced"] == {"db_latency_ms": default.db_latency_ms}
    r = await client.put("/api/knobs", json=r.json()["replaced"])  # put back: that change only
    assert r.json()["knobs"] == {**default.as_dict(), "email_outage": "on"}
    r = await client.delete("/api/knobs")
    assert r.json()["replaced"] == {"email_outage": "on"}, "what the reset undid"
    assert (await client.delete("/api/knobs")).json()["replaced"] == {}


@pytest.mark.parametrize("body", [{"email_failure_rate": 2}, {"colour": "blue"}, [1, 2]])
async def test_bad_runtime_knobs_are_a_400(client: httpx.AsyncClient, body: object) -> None:
    r = await client.put("/api/knobs", json=body)
    assert r.status_code == 400, r.text
    assert (await client.get("/api/knobs")).json()["knobs"] == knobs.Knobs().as_dict()


@pytest.fixture
async def locked(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app: Litestar = create_app(settings.with_(knobs_mutable=False))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c,
    ):
        yield c


async def test_knobs_off_forbids_changes_but_shows_them(
    locked: httpx.AsyncClient, pg_url: str
) -> None:
    assert (await locked.get("/api/knobs")).json()["mutable"] is False
    assert (await locked.put("/api/knobs", json={"db_latency_ms": 0})).status_code == 403
    assert (await locked.delete("/api/knobs")).status_code == 403
    before = await count_runners(pg_url)
    r = await locked.post(
        "/api/marathon/sequential",
        json=fake.runner(),
        headers={"Marathon-Knobs": "email_failure_rate=1"},
    )
    assert r.status_code == 403 and "MARATHON_KNOBS=off" in r.json()["detail"]
    assert await count_runners(pg_url) == before
    assert (await locked.post("/api/scenarios/happy")).status_code == 403


async def test_each_header_override_is_logged_once(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    header = {"Marathon-Knobs": "db_latency_ms=1.25, email_latency_ms=0"}
    with caplog.at_level(logging.INFO, logger="marathon"):
        for _ in range(3):
            await client.post("/api/marathon/sequential", json=fake.runner(), headers=header)
    lines = [r.getMessage() for r in caplog.records if "db_latency_ms=1.25" in r.getMessage()]
    assert lines == ["knob override per request: db_latency_ms=1.25"]


async def test_simulated_database_failures(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/marathon/sequential",
        json=fake.runner(),
        headers={"Marathon-Knobs": QUICK + ", db_failure_rate=1"},
    )
    assert r.status_code == 503
    trace = await settled(trace_id_of(r))
    assert "DatabaseUnavailable" in (trace.one("insert runner").status.description or "")
    r = await client.post(
        "/api/marathon/wait-until",
        json=fake.runner(),
        headers={"Marathon-Knobs": QUICK + ", db_duplicate_rate=1"},
    )
    assert r.status_code == 409


def test_what_was_logged_is_bounded_however_many_values_clients_send(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from marathon.routes import knob_headers as registrations

    monkeypatch.setattr(registrations, "_logged_overrides", set())
    with caplog.at_level(logging.INFO, logger="marathon"):
        for i in range(registrations.MAX_LOGGED_OVERRIDES + 100):
            registrations.log_override_once("db_latency_ms", i / 1000)
    assert len(registrations._logged_overrides) == registrations.MAX_LOGGED_OVERRIDES
    assert len(caplog.records) == registrations.MAX_LOGGED_OVERRIDES
