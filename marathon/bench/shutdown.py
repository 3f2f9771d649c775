"""SIGTERM in the middle of a burst: what each strategy loses or sends twice.

    marathon bench shutdown [--burst 200] [--concurrency 20] [--knobs HEADER] [--together]

What a deploy does to a busy server, per strategy. The harness's PostgreSQL and a `marathon
sandbox` process of this benchmark's own (its outbox holds only these bursts) outlive the API,
as a real database and email API would; each strategy gets a `marathon serve` process of its
own (one strategy after the other; `--together`: all at once, as `--quick` and the test do) and
a burst of `--burst` registrations from this process, `--concurrency` in flight. Once half of a
burst has been answered 2xx, its server gets SIGTERM; the rest of the burst finds the port
closed. The queued strategy's server is then started again: its jobs waited in the database.
Then, per strategy, from the database and the sandbox's outbox (one email per runner id: the
idempotency key): requests accepted (2xx), rows stored, and of the accepted registrations how
many got exactly one email, none (lost) or more than one (duplicated), as
`marathon.outcomes` judges them (`email_lost`, `duplicate_email`).

Expected: 0 lost and 0 duplicated for sequential, concurrent, wait-until and queued (after the
restart); fire-and-forget loses the emails still in flight when its process ends: the lesson.
The short variant runs in the tests (tests/test_bench_shutdown.py).
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from marathon.bench.harness import Harness, Options, register
from marathon.local.servers import ServerProcess
from marathon.outcomes import Outcome, judge
from marathon.service import fake
from marathon.service.settings import Settings
from marathon.strategies import STRATEGIES

__all__ = ["Result", "benchmark", "render", "run"]

SETTLE_S = 120  # how long the restarted queued server may take to deliver what waited


@dataclass
class Result:
    """One strategy's burst. `lost`/`duplicated` count accepted registrations only."""

    strategy: str
    sent: int = 0
    accepted: int = 0
    refused: int = 0  # no 2xx: the port was closed, the connection dropped, or a 5xx
    rows: int = 0  # rows stored, answered or not
    exactly_once: int = 0
    lost: int = 0
    duplicated: int = 0
    after_restart: int = 0  # emails the restarted server delivered (queued only)
    shutdown_s: float = 0.0  # SIGTERM to exit: the drain and the requests it finished
    exit_code: int | None = None
    accepted_ids: list[str] = field(default_factory=list, repr=False)
    statuses: dict[str, int] = field(default_factory=dict, repr=False)  # id -> its 2xx


async def _burst(
    url: str,
    result: Result,
    *,
    token: str,
    size: int,
    concurrency: int,
    knobs_header: str,
    stop: Callable[[], None],
) -> None:
    """`size` registrations, `concurrency` at a time; `stop()` once half are accepted."""
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    headers = {"Marathon-Knobs": knobs_header} if knobs_header else {}
    stopped = False

    async def one(client: httpx.AsyncClient, i: int) -> None:
        nonlocal stopped
        # The address says which burst a row came from, answered or not.
        body = fake.runner(email=f"{result.strategy}.{i}.{token}@example.com")
        async with gate:
            result.sent += 1
            try:
                r = await client.post(f"/api/marathon/{result.strategy}", json=body)
            except httpx.TransportError:
                result.refused += 1
                return
        if not r.is_success:
            result.refused += 1
            return
        result.accepted += 1
        runner_id = r.json()["id"]
        result.accepted_ids.append(runner_id)
        result.statuses[runner_id] = r.status_code
        if not stopped and result.accepted >= size // 2:
            stopped = True
            stop()

    async with httpx.AsyncClient(
        base_url=url, timeout=60, limits=limits, headers=headers
    ) as client:
        await asyncio.gather(*(one(client, i) for i in range(size)))
    if not stopped:  # every request failed before half were accepted: stop it all the same
        stop()


def _exit_code(process: subprocess.Popen[bytes], timeout: float = 120) -> int:
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


async def _round(server: ServerProcess, result: Result, **burst: Any) -> None:
    """One strategy's burst, its server's SIGTERM halfway, and how long it took to exit."""
    halfway = asyncio.Event()

    async def sigterm() -> None:
        await halfway.wait()
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)  # as a deploy does: drain, then exit
        sent = time.monotonic()
        result.exit_code = await asyncio.to_thread(_exit_code, server.process)
        result.shutdown_s = round(time.monotonic() - sent, 2)

    await asyncio.gather(_burst(server.url, result, stop=halfway.set, **burst), sigterm())


def _outbox(sandbox_url: str) -> Counter[str]:
    """Emails in the sandbox's outbox, per idempotency key (the runner id)."""
    data = httpx.get(f"{sandbox_url}/outbox", timeout=30).json()["data"]
    return Counter(e["idempotency_key"] for e in data if e["idempotency_key"])


def _settle(database_url: str, ids: list[str], timeout: float) -> None:
    """Until every queued confirmation among `ids` is sent or dead (or `timeout`)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM confirmations WHERE runner_id::text = ANY(%s)"
                " AND state NOT IN ('sent', 'dead')",
                (ids,),
            ).fetchone()
            if row is not None and row[0] == 0:
                return
            time.sleep(0.25)


def _rows(database_url: str, token: str) -> Counter[str]:
    """Rows stored per strategy, from the addresses of this run's bursts."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        emails = conn.execute(
            "SELECT email FROM runners WHERE email LIKE %s", (f"%.{token}@example.com",)
        ).fetchall()
    return Counter(email.split(".", 1)[0] for (email,) in emails)


def run(
    database_url: str,
    workdir: Path,
    *,
    burst: int = 200,
    concurrency: int = 20,
    knobs_header: str = "",
    strategies: Sequence[str] = tuple(STRATEGIES),
    sandbox_url: str | None = None,
) -> list[Result]:
    """The whole benchmark on `database_url` (rows are told apart by a random token) and
    `sandbox_url` (default: a `marathon sandbox` process of its own); logs, one per process,
    go to `workdir`."""
    token = secrets.token_hex(4)
    results = {s: Result(s) for s in strategies}
    # `marathon sandbox` in a process of its own: its outbox outlives every API restart.
    sandbox = ServerProcess(["sandbox"], health="/health", log=workdir / "sandbox.log")
    outbox_url = sandbox_url or sandbox.url
    settings = Settings(database_url=database_url, resend_api_url=outbox_url)
    before: Counter[str] = Counter()  # the outbox when the queued server had stopped
    with ExitStack() as stack:
        # Only the queued strategy's server works the queue: nobody else may deliver its jobs.
        servers = {
            s: ServerProcess.serve(settings, worker=s == "queued", log=workdir / f"{s}.log")
            for s in strategies
        }
        for server in [*servers.values(), *([] if sandbox_url else [sandbox])]:
            stack.callback(server.stop, 10)  # whatever happens, no process is left behind
            server.launch()  # side by side: they start faster together
        for server in [*servers.values(), *([] if sandbox_url else [sandbox])]:
            server.start()

        options: dict[str, Any] = {
            "token": token,
            "size": burst,
            "concurrency": concurrency,
            "knobs_header": knobs_header,
        }

        async def restart_queued() -> None:
            """A new queued server once the first has exited (the other rounds go on): the
            jobs that waited in the database are its to deliver."""
            await _round(servers["queued"], results["queued"], **options)
            before.update(await asyncio.to_thread(_outbox, outbox_url))
            log = workdir / "queued-restarted.log"
            restarted = ServerProcess.serve(settings, worker=True, log=log)
            stack.callback(restarted.stop)
            await asyncio.to_thread(restarted.start)
            ids = results["queued"].accepted_ids
            await asyncio.to_thread(_settle, database_url, ids, SETTLE_S)
            await asyncio.to_thread(restarted.stop)

        async def rounds() -> None:
            await asyncio.gather(
                *(
                    restart_queued() if s == "queued" else _round(servers[s], results[s], **options)
                    for s in strategies
                )
            )

        asyncio.run(rounds())
        emails = _outbox(outbox_url)
    rows = _rows(database_url, token)
    for r in results.values():
        counts = [emails[i] for i in r.accepted_ids]
        r.rows = rows[r.strategy]
        r.exactly_once = counts.count(1)
        # Per runner, the outbox's count is known; whether its row is stored is not asked.
        judged = [
            judge(Outcome(r.statuses[i], None, emails[i] > 0, emails_sent=emails[i]))
            for i in r.accepted_ids
        ]
        r.lost = sum("email_lost" in j for j in judged)
        r.duplicated = sum("duplicate_email" in j for j in judged)
        if r.strategy == "queued":
            r.after_restart = sum(emails[i] - before[i] for i in r.accepted_ids)
    return list(results.values())


def render(results: Sequence[Result]) -> str:
    """A Markdown table, as in docs/benchmarks.md."""
    lines = [
        "| strategy | sent | accepted | refused | rows | exactly once | lost | duplicated"
        " | after restart | shutdown s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.strategy} | {r.sent} | {r.accepted} | {r.refused} | {r.rows} |"
            f" {r.exactly_once} | {r.lost} | {r.duplicated} | {r.after_restart} |"
            f" {r.shutdown_s:g} |"
        )
    return "\n".join(lines)


@register("shutdown")
def benchmark(h: Harness, o: Options) -> dict[str, Any]:
    """On the harness's PostgreSQL, with a sandbox of its own; the table goes to stderr."""
    options: dict[str, Any] = {
        "burst": max(2, min(o.shutdown_burst, 2000)),  # bounded: loopback, a shared machine
        "concurrency": max(1, o.shutdown_concurrency),
        "knobs_header": o.shutdown_knobs,
    }
    workdir = h.tmp / "shutdown"
    workdir.mkdir(exist_ok=True)
    if o.shutdown_together:
        results = run(h.database_url, workdir, **options)
    else:  # one at a time: no strategy's load starves another's server of CPU
        results = [run(h.database_url, workdir, strategies=[s], **options)[0] for s in STRATEGIES]
    print(render(results), file=sys.stderr, flush=True)
    kept = all(r.lost == 0 for r in results if r.strategy != "fire-and-forget")
    return {
        **options,
        "together": o.shutdown_together,
        "strategies": [
            {k: v for k, v in asdict(r).items() if k != "accepted_ids"} for r in results
        ],
        "as_expected": kept and not any(r.duplicated for r in results),
    }
