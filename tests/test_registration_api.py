"""Bad input gets a clear 4xx with per-field errors and writes nothing; duplicates get 409."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from marathon.local.stack import ThreadedServer
from marathon.registration import parse, uuid7
from marathon.service import fake
from marathon.strategies import STRATEGIES
from tests.conftest import QUICK, count_runners, final_status, outbox, settled, trace_id_of

pytestmark = pytest.mark.anyio

QUICK_HEADERS = {"Marathon-Knobs": QUICK}


def _errors(r: httpx.Response) -> dict[str, str]:
    assert r.status_code == 400, r.text
    return {e["key"]: e["message"] for e in r.json()["extra"]}


BAD_BODIES: list[tuple[Any, set[str]]] = [
    ({}, {"firstName", "lastName", "email", "address", "distance"}),
    (fake.runner(email="not-an-email"), {"email"}),
    (fake.runner(distance="marathon"), {"distance"}),
    (fake.runner(firstName="   "), {"firstName"}),
    (fake.runner(lastName=42), {"lastName"}),
    (fake.runner(address="x" * 501), {"address"}),
    (fake.runner(nickname="speedy"), {"nickname"}),
    ({**fake.runner(), "email": None, "distance": "1k"}, {"email", "distance"}),
    ([fake.runner()], {"body"}),
]


@pytest.mark.parametrize("strategy", list(STRATEGIES))
@pytest.mark.parametrize(("body", "keys"), BAD_BODIES)
async def test_bad_input_gets_400_per_field_and_writes_nothing(
    client: httpx.AsyncClient, pg_url: str, strategy: str, body: Any, keys: set[str]
) -> None:
    before = await count_runners(pg_url)
    r = await client.post(f"/api/marathon/{strategy}", json=body, headers=QUICK_HEADERS)
    assert set(_errors(r)) == keys
    assert await count_runners(pg_url) == before


async def test_error_messages_never_echo_the_values(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/marathon/sequential", json=fake.runner(email="secret@@nowhere"))
    assert "secret" not in r.text and _errors(r)["email"].startswith("must be an email")


async def test_invalid_json_is_a_400(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/marathon/sequential",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert _errors(r) == {"body": "must be valid JSON"}


@pytest.mark.parametrize("strategy", list(STRATEGIES))
async def test_a_body_over_16_kib_is_413(
    client: httpx.AsyncClient, pg_url: str, strategy: str
) -> None:
    before = await count_runners(pg_url)
    body = json.dumps(fake.runner(address="x" * 17_000)).encode()
    r = await client.post(
        f"/api/marathon/{strategy}", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert await count_runners(pg_url) == before


@pytest.mark.parametrize("header", ["email_latency_ms=-1", "colour=blue", "db_latency_ms"])
async def test_bad_knobs_header_is_a_400_and_writes_nothing(
    client: httpx.AsyncClient, pg_url: str, header: str
) -> None:
    before = await count_runners(pg_url)
    r = await client.post(
        "/api/marathon/sequential", json=fake.runner(), headers={"Marathon-Knobs": header}
    )
    assert set(_errors(r)) == {"Marathon-Knobs"}
    assert await count_runners(pg_url) == before


@pytest.mark.parametrize("strategy", ["sequential", "fire-and-forget", "wait-until"])
async def test_a_duplicate_email_is_409_whatever_its_case(
    client: httpx.AsyncClient, sandbox: ThreadedServer, strategy: str
) -> None:
    first = fake.runner()
    r1 = await client.post(f"/api/marathon/{strategy}", json=first, headers=QUICK_HEADERS)
    assert r1.status_code == 201
    again = fake.runner(email=first["email"].upper())
    r2 = await client.post(f"/api/marathon/{strategy}", json=again, headers=QUICK_HEADERS)
    assert r2.status_code == 409
    assert first["email"].lower() not in r2.text.lower()
    trace = await settled(trace_id_of(r2))
    runner_id = str(trace.server.attributes["marathon.runner_id"])  # type: ignore[index]
    assert outbox(sandbox, runner_id) == [], "no confirmation for a rejected registration"


async def test_concurrent_has_already_said_202_to_a_duplicate(
    client: httpx.AsyncClient, sandbox: ThreadedServer
) -> None:
    """Its lesson: the duplicate is found in the background, after a 202, and the email goes."""
    first = fake.runner()
    await client.post("/api/marathon/sequential", json=first, headers=QUICK_HEADERS)
    r = await client.post("/api/marathon/concurrent", json=first, headers=QUICK_HEADERS)
    assert r.status_code == 202
    trace = await settled(trace_id_of(r))
    assert not trace.one("insert runner").status.is_ok
    status = (await client.get(f"/api/registrations/{r.json()['id']}")).json()
    assert status["stored"] is False
    assert status["email"]["delivered"] is True, "a confirmation for a registration never stored"


async def test_the_registration_status_of_an_unknown_id(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/api/registrations/{uuid7()}")
    assert r.json()["stored"] is False and r.json()["email"]["delivered"] is False
    assert (await client.get("/api/registrations/not-a-uuid")).status_code in (400, 404)


def test_ids_are_uuid7_and_ordered_by_time() -> None:
    ids = [uuid7() for _ in range(50)]
    assert all(i.version == 7 for i in ids)
    assert [i.int >> 80 for i in ids] == sorted(i.int >> 80 for i in ids)
    runner = parse(fake.runner())
    assert not isinstance(runner, list)
    assert "@" not in repr(runner), "a runner's repr must not leak personal data"


async def test_no_personal_data_in_any_recorded_span(client: httpx.AsyncClient) -> None:
    """Every span of every strategy, the sandbox's included, as the viewers would get them."""
    person = {"firstName": "Philomena", "lastName": "Cunk", "address": "9 Hidden Row"}
    bodies = [(s, fake.runner(**person)) for s in STRATEGIES]
    bodies.append(("sequential", dict(bodies[0][1])))  # a duplicate: 409
    texts = []
    for strategy, body in bodies:
        r = await client.post(f"/api/marathon/{strategy}", json=body, headers=QUICK_HEADERS)
        trace_ids = [f"{trace_id_of(r):032x}"]
        if r.status_code < 300:  # a queued job's attempts are traces of their own
            status = await final_status(client, r.json()["id"])
            trace_ids += status["trace_ids"].get("attempts", [])
        for trace_id in trace_ids:
            await settled(int(trace_id, 16))
            texts.append((await client.get(f"/api/traces/{trace_id}")).text)
    text = "\n".join(texts)
    assert "send confirmation" in text and "resend-sandbox" in text
    assert "confirmation attempt" in text, "the queued job's attempts were checked too"
    for secret in [*person.values(), *(b["email"] for _, b in bodies)]:
        assert secret not in text
