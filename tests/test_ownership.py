"""Each deferral says who owns it and what became of it (`marathon.owner`, `marathon.outcome`):
fire-and-forget and wait-until are told apart by their spans alone, in every view."""

from __future__ import annotations

import httpx
import pytest

from marathon import tracing
from marathon.service import fake
from marathon.views import svg, terminal, waterfall
from tests.conftest import QUICK, settled, share, trace_id_of

pytestmark = pytest.mark.anyio


async def _register(client: httpx.AsyncClient, strategy: str, knobs: str = QUICK) -> int:
    r = await client.post(
        f"/api/marathon/{strategy}", json=fake.runner(), headers={"Marathon-Knobs": knobs}
    )
    assert r.status_code in (201, 202), r.text
    return trace_id_of(r)


async def test_fire_and_forget_and_wait_until_differ_in_their_spans(
    client: httpx.AsyncClient,
) -> None:
    owners = {}
    for strategy in ("fire-and-forget", "wait-until", "sequential"):
        trace = await settled(await _register(client, strategy))
        email, insert = trace.one(tracing.EMAIL_SPAN), trace.one(tracing.INSERT_SPAN)
        assert insert.attributes is not None and email.attributes is not None
        assert insert.attributes[tracing.OWNER_ATTR] == "request"
        assert email.attributes[tracing.OUTCOME_ATTR] == "finished"
        owners[strategy] = email.attributes[tracing.OWNER_ATTR]
        # The views say it too: the waterfall model, the terminal and the SVG.
        assert trace.server.context is not None
        doc = (await client.get(f"/api/traces/{trace.server.context.trace_id:032x}")).json()
        [w] = waterfall.parse(doc)
        bar = next(b for b in w.bars if b.name == tracing.EMAIL_SPAN)
        assert (bar.owner, bar.outcome) == (owners[strategy], "finished")
        text = terminal.text([w])
        drawing = svg.svg([w])
        assert f'data-owner="{owners[strategy]}" data-outcome="finished"' in drawing
        if owners[strategy] != "request":
            assert f"{tracing.EMAIL_SPAN} · {owners[strategy]}" in text
            assert f"· {owners[strategy]}: " in text, "the legend explains the owner"
    assert owners == {
        "fire-and-forget": "nobody",
        "wait-until": "wait_until",
        "sequential": "request",
    }


async def test_work_dropped_by_back_pressure_leaves_a_zero_length_span(
    client: httpx.AsyncClient,
) -> None:
    share(wait_until_max_pending=1, wait_until_when_full="drop")  # shared limits, not per request
    await _register(client, "wait-until", "email_latency_ms=1000")  # one pending
    trace = await settled(await _register(client, "wait-until", QUICK))
    email = trace.one(tracing.EMAIL_SPAN)
    assert email.attributes is not None
    assert email.attributes[tracing.OWNER_ATTR] == "wait_until"
    assert email.attributes[tracing.OUTCOME_ATTR] == "dropped"
    assert email.start_time == email.end_time or (
        email.end_time is not None
        and email.start_time is not None
        and email.end_time - email.start_time < 5_000_000
    )
    assert email.parent is not None and email.parent.span_id == trace.server.context.span_id
    assert trace.server.context is not None
    doc = (await client.get(f"/api/traces/{trace.server.context.trace_id:032x}")).json()
    [w] = waterfall.parse(doc)
    assert waterfall.mark(next(b for b in w.bars if b.name == tracing.EMAIL_SPAN)) == "∅"
