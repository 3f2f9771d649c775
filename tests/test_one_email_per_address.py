"""With real email, one address gets one confirmation however many registrations race; the
sandbox keeps the concurrent strategy's lesson."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from marathon.app import create_app
from marathon.local.stack import ThreadedServer
from marathon.service import fake
from marathon.service.settings import Settings
from tests.conftest import outbox

pytestmark = pytest.mark.anyio


async def _race(app_url: str, n: int) -> list[str]:
    body = fake.runner()
    async with httpx.AsyncClient(base_url=app_url, timeout=30) as client:
        answers = await asyncio.gather(
            *(client.post("/api/marathon/concurrent", json=body) for _ in range(n))
        )
    assert {r.status_code for r in answers} == {202}
    return [r.json()["id"] for r in answers]


async def _emails(api: ThreadedServer, sandbox: ThreadedServer, ids: list[str]) -> int:
    async with httpx.AsyncClient(base_url=api.url) as client:
        for _ in range(400):  # until every piece of background work has finished
            if (await client.get("/api/background")).json()["pending"] == 0:
                break
            await asyncio.sleep(0.05)
    return sum(len(outbox(sandbox, i)) for i in ids)


@pytest.mark.parametrize(("real_key", "expected"), [(True, 1), (False, 10)])
async def test_racing_registrations_of_one_address(
    settings: Settings, sandbox: ThreadedServer, real_key: bool, expected: int
) -> None:
    if real_key:  # as with Resend: the sandbox accepts any re_ key, no knobs forwarded
        settings = settings.with_(email_sandbox=False, resend_api_key="re_test_key")
    with ThreadedServer(create_app(settings)) as api:
        ids = await _race(api.url, 10)
        assert await _emails(api, sandbox, ids) == expected
