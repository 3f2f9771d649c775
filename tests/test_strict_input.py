"""Input as strict as the email API's: JSON only, addresses Resend would accept, no control
characters; every refusal is a 400 or 415 with per-field errors and writes nothing."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from marathon import registration
from marathon.routes.registration_openapi import BODY
from marathon.service import addresses, fake
from tests.conftest import QUICK, count_runners

pytestmark = pytest.mark.anyio

HEADERS = {"Marathon-Knobs": QUICK}


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "text/json"]
)
async def test_a_registration_must_say_it_is_json(
    client: httpx.AsyncClient, pg_url: str, content_type: str | None
) -> None:
    """What a cross-site form or fetch without preflight can send: refused, nothing stored."""
    before = await count_runners(pg_url)
    headers = {**HEADERS, **({"content-type": content_type} if content_type else {})}
    r = await client.post(
        "/api/marathon/sequential", content=json.dumps(fake.runner()), headers=headers
    )
    assert r.status_code == 415, r.text
    assert r.json()["extra"][0]["key"] == "Content-Type"
    assert await count_runners(pg_url) == before


async def test_json_with_a_charset_is_json(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/marathon/sequential",
        content=json.dumps(fake.runner()),
        headers={**HEADERS, "content-type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 201


@pytest.mark.parametrize(
    "address",
    [
        "Ada <ada@example.com>",  # display-name form
        "ada@example.com, bob@example.com",  # two addresses
        "ada@bob@example.com",
        "ada@localhost",  # no dot in the domain
        "adä@example.com",  # non-ASCII local part
        "a..da@example.com",
        ".ada@example.com",
        '"ada"@example.com',
        "ada:x@example.com",
        "ada@-example.com",
        "ada@example.c0m",
        "a" * 65 + "@example.com",
        "ada@" + "a" * 250 + ".com",
    ],
)
async def test_addresses_the_email_api_would_refuse_are_a_400(
    client: httpx.AsyncClient, pg_url: str, address: str
) -> None:
    before = await count_runners(pg_url)
    r = await client.post("/api/marathon/queued", json=fake.runner(email=address), headers=HEADERS)
    assert r.status_code == 400, r.text
    assert [e["key"] for e in r.json()["extra"]] == ["email"]
    assert address not in r.text, "errors never echo the value"
    assert await count_runners(pg_url) == before


@pytest.mark.parametrize(
    "address", ["ada@example.com", "ada.lovelace+marathon@mail.example.co.uk", "o'neil@x.io"]
)
def test_ordinary_addresses_pass(address: str) -> None:
    assert addresses.problem(address) is None


@pytest.mark.parametrize("field", ["firstName", "lastName", "email", "address"])
@pytest.mark.parametrize("char", ["\x00", "\x1b", "\u200b", "\n", "\u2028", "\u2029", "\x85"])
async def test_control_characters_are_a_400_per_field(
    client: httpx.AsyncClient, pg_url: str, field: str, char: str
) -> None:
    body = fake.runner()
    body[field] = body[field][:3] + char + body[field][3:]
    before = await count_runners(pg_url)
    r = await client.post("/api/marathon/sequential", json=body, headers=HEADERS)
    assert r.status_code == 400, r.text
    assert [e["key"] for e in r.json()["extra"]] == [field]
    assert await count_runners(pg_url) == before


@pytest.mark.parametrize("char", ["\x01", "\x85", "\u200b", "\u2028", "\u2029", "\ufeff"])
def test_the_schemas_pattern_is_the_servers_rule(char: str) -> None:
    """What the OpenAPI pattern lets through, the server accepts (a `\\S` once let a control
    character through that the server then refused)."""
    pattern = re.compile(BODY.properties["firstName"].pattern)  # type: ignore[index, union-attr, arg-type]
    for value in (f"Ad{char}a", char, f" {char} "):
        assert not pattern.match(value), repr(value)
        assert isinstance(registration.parse({**fake.runner(), "firstName": value}), list)
    assert pattern.match("Zoë") and pattern.match(" Ada ")
