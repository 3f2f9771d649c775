"""Shared knobs set for a while and put back: `marathon.lab.shared_knobs`, used by the
scenarios, the notebooks and the outage benchmark."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from marathon import knobs
from marathon.app import create_app
from marathon.bench import outage
from marathon.bench.harness import Options
from marathon.lab.shared_knobs import shared_knobs
from marathon.local.stack import ThreadedServer
from marathon.service.settings import Settings
from tests.conftest import share


@pytest.fixture
def api(settings: Settings) -> Iterator[ThreadedServer]:
    with ThreadedServer(create_app(settings)) as server:
        yield server


@pytest.fixture
def client(api: ThreadedServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.url, timeout=30) as c:
        yield c


def test_what_was_set_is_put_back_when_the_block_raises(client: httpx.Client) -> None:
    share(wait_until_max_pending=7)  # not the default: put back, not reset
    before = knobs.defaults().as_dict()
    seen: dict[str, Any] = {}

    def experiment() -> None:
        with shared_knobs(client, {"email_outage": "on", "wait_until_max_pending": 3}) as old:
            seen.update(replaced=old, during=knobs.defaults())
            raise RuntimeError("the network went away")

    with pytest.raises(RuntimeError, match="network"):
        experiment()
    assert seen["during"].email_outage == "on" and seen["during"].wait_until_max_pending == 3
    assert seen["replaced"] == {"email_outage": "off", "wait_until_max_pending": 7}
    assert knobs.defaults().as_dict() == before


def test_a_knob_it_did_not_change_is_left_alone(client: httpx.Client) -> None:
    """Sent with the value it already had, a knob is not put back: a change someone else made
    meanwhile stays."""
    attempts = knobs.defaults().queue_max_attempts
    with shared_knobs(client, {"email_outage": "on", "queue_max_attempts": attempts}):
        share(queue_max_attempts=3)  # the instructor, from the page
    assert knobs.defaults().queue_max_attempts == 3
    assert knobs.defaults().email_outage == "off"


def test_the_outage_benchmarks_quick_variant_leaves_the_knobs_as_they_were(
    api: ThreadedServer,
) -> None:
    share(queue_retry_base_s=0.5, wait_until_max_pending=9)  # not the defaults
    before = knobs.defaults().as_dict()
    result = outage.run(api.url, Options.quick_variant())
    assert result["exactly_once"] == result["registrations"] == 5, result
    assert result["as_expected"] is True
    assert knobs.defaults().as_dict() == before, "the outage and the quick retry policy undone"
