"""Load for the benchmarks, from its own process: wrk when installed, else an async httpx client.

    python -m marathon.bench.loadgen URL --path /api/marathon/queued --duration 5 --connections 16
    python -m marathon.bench.loadgen URL --path ... --count 2000 --connections 50   # a burst

Prints one JSON line: requests, duration_s, non2xx, errors, p50_ms, p99_ms, client ("wrk" or
"httpx"). Every request registers a new fictional runner (a unique address per request).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

__all__ = ["main", "run"]

# One unique address per request: thread number (set in setup) and a counter per thread.
WRK_SCRIPT = """
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  prefix = args[1]
  path = args[2]
  counter = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  counter = counter + 1
  local body = string.format('{"firstName":"Ada","lastName":"Lovelace",'
    .. '"email":"ada.%s.%d.%d@example.com","address":"1 Elm Street, Springfield",'
    .. '"distance":"10k"}', prefix, tid, counter)
  return wrk.format(nil, path, nil, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"requests":%d,"duration_s":%f,"non2xx":%d,"errors":%d,'
    .. '"p50_ms":%f,"p99_ms":%f,"client":"wrk"}\\n', summary.requests, summary.duration / 1e6,
    e.status, e.connect + e.read + e.write + e.timeout, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000))
end
"""


def _body(prefix: str, n: int) -> dict[str, str]:
    return {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": f"ada.{prefix}.{n}@example.com",
        "address": "1 Elm Street, Springfield",
        "distance": "10k",
    }


def _wrk(url: str, path: str, duration: float, connections: int, headers: list[str]) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT)
    try:
        command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "-s", f.name]
        for h in headers:
            command += ["-H", h]
        command += [url, "--", uuid.uuid4().hex[:12], path]
        out = subprocess.run(command, capture_output=True, text=True, timeout=duration + 120)
        line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            raise RuntimeError(f"wrk failed: {out.stderr or out.stdout}")
        return line.removeprefix("RESULT ")
    finally:
        Path(f.name).unlink()


async def _httpx(
    url: str,
    path: str,
    duration: float | None,
    count: int | None,
    connections: int,
    headers: list[str],
) -> dict[str, Any]:
    prefix = uuid.uuid4().hex[:12]
    extra = {k.strip(): v.strip() for k, v in (h.split(":", 1) for h in headers)}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    times: list[float] = []
    codes: list[int] = []
    errors = 0
    first_error = None
    issued = 0
    start = time.perf_counter()
    deadline = start + (duration or 1e9)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:

        async def one_connection() -> None:
            nonlocal issued, errors, first_error
            while time.perf_counter() < deadline and (count is None or issued < count):
                issued += 1
                t = time.perf_counter()
                try:
                    r = await client.post(path, json=_body(prefix, issued), headers=extra)
                    codes.append(r.status_code)
                    times.append((time.perf_counter() - t) * 1000)
                except httpx.HTTPError as e:
                    errors += 1
                    first_error = first_error or f"{type(e).__name__}: {e}"

        await asyncio.gather(*(one_connection() for _ in range(connections)))
    times.sort()
    return {
        "requests": len(codes) + errors,
        "duration_s": time.perf_counter() - start,
        "non2xx": sum(1 for c in codes if not 200 <= c < 300),
        "errors": errors,
        "p50_ms": statistics.median(times) if times else 0.0,
        "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))] if times else 0.0,
        "client": "httpx",
        "first_error": first_error,
    }


def run(
    url: str,
    path: str,
    *,
    duration: float | None = None,
    count: int | None = None,
    connections: int = 16,
    headers: Sequence[str] = (),
    prefer_wrk: bool = True,
) -> dict[str, Any]:
    """Run the load in a child process (never this one) and return its JSON summary."""
    command = [sys.executable, "-m", "marathon.bench.loadgen", url, "--path", path]
    command += ["--connections", str(connections)]
    command += ["--duration", str(duration)] if duration else ["--count", str(count or 100)]
    for h in headers:
        command += ["--header", h]
    if not prefer_wrk:
        command.append("--httpx")
    out = subprocess.run(command, capture_output=True, text=True, timeout=(duration or 300) + 180)
    if out.returncode:
        raise RuntimeError(f"load generator failed: {out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m marathon.bench.loadgen", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--path", required=True)
    parser.add_argument("--duration", type=float, help="seconds of load (wrk when installed)")
    parser.add_argument("--count", type=int, help="this many requests (always httpx)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--header", action="append", default=[], help="'Name: value'")
    parser.add_argument("--httpx", action="store_true", help="never wrk")
    args = parser.parse_args(argv)
    if args.duration and not args.httpx and shutil.which("wrk"):
        print(_wrk(args.url, args.path, args.duration, args.connections, args.header))
    else:
        coro = _httpx(args.url, args.path, args.duration, args.count, args.connections, args.header)
        print(json.dumps(asyncio.run(coro)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
