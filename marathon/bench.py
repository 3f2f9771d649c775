"""Benchmarks: what each ordering costs the user as the email API slows down, and under load.

    python -m marathon.bench                  # the full run (a few minutes), a fresh stack
    python -m marathon.bench --quick --json   # the small variant the tests run

Ratios are measured within one run, on one machine, against one stack: compare them, not the
absolute numbers, across machines. Load goes to loopback only, bounded in count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import httpx

from marathon import compare, fake
from marathon.strategies import STRATEGIES

__all__ = ["load", "main", "orderings"]


def orderings(url: str, latencies: Sequence[float], repeat: int) -> list[dict[str, Any]]:
    """Median client wait per strategy for each email latency, and the ratio to sequential."""
    rows = []
    for latency in latencies:
        header = f"email_latency_ms={latency:g}, email_latency_spread=0"
        c = compare.run(url, knobs_header=header, repeat=repeat)
        waits = {s: c.summary(s)["client_ms"] for s in c.runs}
        rows.append(
            {
                "email_latency_ms": latency,
                "client_ms": waits,
                "sequential_over": {
                    s: waits["sequential"] / max(w, 0.001) for s, w in waits.items()
                },
            }
        )
    return rows


async def _burst(url: str, strategy: str, n: int, concurrency: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency)
    bodies = [fake.runner() for _ in range(n)]
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
        gate = asyncio.Semaphore(concurrency)

        async def one(body: dict[str, Any]) -> tuple[int, float]:
            async with gate:
                start = time.perf_counter()
                r = await client.post(f"/api/marathon/{strategy}", json=body)
                return r.status_code, (time.perf_counter() - start) * 1000

        start = time.perf_counter()
        results = await asyncio.gather(*(one(b) for b in bodies))
        elapsed = time.perf_counter() - start
    latencies = sorted(ms for _, ms in results)
    return {
        "strategy": strategy,
        "requests": n,
        "ok": sum(1 for status, _ in results if status < 300),
        "per_second": n / elapsed,
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))],
    }


def load(url: str, n: int, concurrency: int) -> list[dict[str, Any]]:
    """`n` registrations per strategy, `concurrency` at a time: throughput and latency."""
    return [asyncio.run(_burst(url, s, n, concurrency)) for s in STRATEGIES]


def _print(result: dict[str, Any]) -> None:
    names = list(STRATEGIES)
    print("Median client wait (ms) by email latency; sequential / strategy in brackets\n")
    print("| email latency | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for row in result["orderings"]:
        cells = [f"{row['client_ms'][s]:,.0f} ({row['sequential_over'][s]:.1f}x)" for s in names]
        print(f"| {row['email_latency_ms']:g} ms | " + " | ".join(cells) + " |")
    print(f"\nLoad: {result['load'][0]['requests']} registrations per strategy\n")
    print("| strategy | ok | req/s | p50 ms | p95 ms |\n|---|---|---|---|---|")
    for row in result["load"]:
        print(
            f"| {row['strategy']} | {row['ok']} | {row['per_second']:.0f} | "
            f"{row['p50_ms']:.0f} | {row['p95_ms']:.0f} |"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m marathon.bench",
        description="Benchmark the orderings on a fresh embedded stack (or --url).",
    )
    parser.add_argument("--url", help="a running marathon API instead of a fresh stack")
    parser.add_argument(
        "--latencies",
        default="100,400,1600",
        help="email latencies in ms, comma-separated (default %(default)s)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per strategy and latency")
    parser.add_argument("--burst", type=int, default=200, help="registrations per strategy")
    parser.add_argument("--concurrency", type=int, default=50, help="requests in flight")
    parser.add_argument("--quick", action="store_true", help="one latency, one run, a burst of 10")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.latencies, args.repeat, args.burst, args.concurrency = "200", 1, 10, 5
    latencies = [float(x) for x in args.latencies.split(",")]
    burst = max(1, min(args.burst, 5000))  # bounded: loopback, but still a machine we share

    def run(url: str) -> dict[str, Any]:
        return {
            "orderings": orderings(url, latencies, args.repeat),
            "load": load(url, burst, max(1, args.concurrency)),
        }

    if args.url:
        result = run(args.url.rstrip("/"))
    else:
        with compare.fresh_stack() as (url, _):
            result = run(url)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        _print(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
