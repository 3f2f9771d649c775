"""The durable queue across a real outage (the long variant of tests/test_queue_outage.py).

    python -m marathon.bench.outage [--outage-s 60] [--registrations 100] [--json]

On a fresh embedded stack, with the default (shared) retry policy: the email API goes down,
runners register with the queued strategy, the outage lasts `--outage-s`, then clears. It
reports how many confirmations were delivered exactly once, how many twice or more, how many
are dead, and how long after the outage the last one arrived. Expected: all exactly once.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

import httpx

from marathon import knobs
from marathon.lab import stacks
from marathon.service import fake, queue

__all__ = ["main", "outage"]

QUICK = "email_latency_ms=20, db_latency_ms=5"


def outage(url: str, outage_s: float, registrations: int) -> dict[str, Any]:
    """Run the outage against a server on loopback (its knobs change: it must be ours)."""
    with httpx.Client(base_url=url, timeout=30) as client:
        client.put("/api/knobs", json={"email_outage": "on"}).raise_for_status()
        started = time.monotonic()
        try:
            ids = []
            for _ in range(registrations):
                r = client.post(
                    "/api/marathon/queued", json=fake.runner(), headers={"Marathon-Knobs": QUICK}
                )
                r.raise_for_status()
                ids.append(r.json()["id"])
            time.sleep(max(0.0, outage_s - (time.monotonic() - started)))
        finally:
            client.put("/api/knobs", json={"email_outage": "off"}).raise_for_status()
        cleared = time.monotonic()
        _, horizon = queue.give_up_horizon(knobs.defaults())
        states: dict[str, str] = {}
        while time.monotonic() - cleared < horizon + 30:
            states = {
                i: client.get(f"/api/registrations/{i}").json()["email"]["state"] for i in ids
            }
            if all(s in ("sent", "dead") for s in states.values()):
                break
            time.sleep(1)
        last_s = time.monotonic() - cleared
    sandbox_counts = _outbox_counts(url, ids)
    return {
        "outage_s": outage_s,
        "registrations": registrations,
        "exactly_once": sum(1 for n in sandbox_counts.values() if n == 1),
        "duplicated": sum(1 for n in sandbox_counts.values() if n > 1),
        "missing": sum(1 for n in sandbox_counts.values() if n == 0),
        "dead": sum(1 for s in states.values() if s == "dead"),
        "last_delivery_after_outage_s": round(last_s, 1),
    }


def _outbox_counts(url: str, ids: list[str]) -> dict[str, int]:
    with httpx.Client(base_url=url, timeout=30) as client:
        info = client.get("/api/info").json()
        outbox = info["email"]["outbox_url"].rstrip("/")
        return {
            i: len(client.get(f"{outbox}/outbox", params={"idempotency_key": i}).json()["data"])
            for i in ids
        }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m marathon.bench.outage", description=__doc__)
    parser.add_argument("--outage-s", type=float, default=60, help="outage length (default 60)")
    parser.add_argument("--registrations", type=int, default=100, help="queued registrations")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    with stacks.fresh_stack() as (url, _):
        result = outage(url, args.outage_s, max(1, min(args.registrations, 1000)))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:>30}: {value}")
    return 0 if result["exactly_once"] == result["registrations"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
