"""The durable queue across a real outage (the long variant of tests/test_queue_outage.py).

    marathon bench outage [--outage-s 60] [--registrations 100]

On the harness's `marathon serve` (its worker in-process), with the default (shared) retry
policy: the email API goes down, runners register with the queued strategy, the outage lasts
`--outage-s`, then clears. It reports how many confirmations were delivered exactly once, how
many twice or more, how many are dead, and how long after the outage the last one arrived.
Expected: all exactly once. The knobs it sets are put back as they were, also on failure.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx

from marathon import knobs
from marathon.bench.harness import Harness, Options, register
from marathon.lab.shared_knobs import shared_knobs
from marathon.service import fake, queue

__all__ = ["QUICK_RETRY", "outage", "run"]

QUICK = "email_latency_ms=20, db_latency_ms=5"
# --quick: the default schedule's shape (12 attempts, doubling to a cap) at a 20th of its scale.
QUICK_RETRY = {"queue_retry_base_s": 0.1, "queue_retry_cap_s": 1}


@register("outage")
def benchmark(h: Harness, o: Options) -> dict[str, Any]:
    api = h.api(MARATHON_WORKER="on").start()
    try:
        return run(api.url, o)
    finally:
        api.stop()


def run(url: str, o: Options) -> dict[str, Any]:
    """The outage `o` asks for, against the server at `url`."""
    registrations = max(1, min(o.registrations, 1000))  # bounded: loopback, a shared machine
    return outage(url, o.outage_s, registrations, retry=QUICK_RETRY if o.quick else {})


def outage(
    url: str,
    outage_s: float,
    registrations: int,
    *,
    retry: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Run the outage against a server (its shared knobs change for a while: it must be ours);
    `retry`: shared retry knobs for the whole run; `headers`: the instructor's token, if any."""
    with (
        httpx.Client(base_url=url, timeout=30) as client,
        shared_knobs(client, retry or {}, headers=headers),
    ):
        ids = []
        with shared_knobs(client, {"email_outage": "on"}, headers=headers):
            started = time.monotonic()
            for _ in range(registrations):
                r = client.post(
                    "/api/marathon/queued", json=fake.runner(), headers={"Marathon-Knobs": QUICK}
                )
                r.raise_for_status()
                ids.append(r.json()["id"])
            time.sleep(max(0.0, outage_s - (time.monotonic() - started)))
        cleared = time.monotonic()
        # The server's knobs, not this process's: it may run elsewhere.
        in_force = knobs.Knobs().replace(client.get("/api/knobs").json()["knobs"])
        _, horizon = queue.give_up_horizon(in_force)
        states: dict[str, str] = {}
        while time.monotonic() - cleared < horizon + 30:
            states = {
                i: client.get(f"/api/registrations/{i}").json()["email"]["state"] for i in ids
            }
            if all(s in ("sent", "dead") for s in states.values()):
                break
            time.sleep(0.2 if retry else 1)
        last_s = time.monotonic() - cleared
    counts = _outbox_counts(url, ids)
    exactly_once = sum(1 for n in counts.values() if n == 1)
    return {
        "outage_s": outage_s,
        "registrations": registrations,
        "retry": dict(retry or {}) or "the default policy",
        "exactly_once": exactly_once,
        "duplicated": sum(1 for n in counts.values() if n > 1),
        "missing": sum(1 for n in counts.values() if n == 0),
        "dead": sum(1 for s in states.values() if s == "dead"),
        "last_delivery_after_outage_s": round(last_s, 1),
        "as_expected": exactly_once == registrations,
    }


def _outbox_counts(url: str, ids: list[str]) -> dict[str, int]:
    with httpx.Client(base_url=url, timeout=30) as client:
        info = client.get("/api/info").json()
        outbox = info["email"]["outbox_url"].rstrip("/")
        return {
            i: len(client.get(f"{outbox}/outbox", params={"idempotency_key": i}).json()["data"])
            for i in ids
        }
