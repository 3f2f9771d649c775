"""One harness for every benchmark: `marathon bench [NAME ...]` (`make bench`: all of them).

    marathon bench                  # every benchmark, the full run (about 15 minutes on 2 cores)
    marathon bench --quick --json   # the small correctness variant the tests run
    marathon bench queue outage     # some benchmarks only (or --only NAME, repeatable)

The API (`marathon serve`), the sandbox (`marathon sandbox`), the queue workers (`marathon
worker`) and the load (wrk, else an async httpx client: `marathon.bench.loadgen`) are separate
processes; PostgreSQL is an embedded server in a temporary folder. Each figure is taken several
times (min / median / max). Ratios pair rounds of the same run. The steadiest figure on a shared
machine is the server's CPU time per request: utime + stime of its process divided by the
requests it answered, background work included (read after it has drained).

A benchmark is a function `(Harness, Options) -> dict` registered with `@register("name")`
(the name declared in `marathon.bench.arguments`, for `--help`): the ones below, and those of
`marathon.bench.outage` and `marathon.bench.shutdown`; `marathon.bench.suite` runs them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

from marathon.bench import arguments, loadgen
from marathon.lab import compare
from marathon.local import postgres
from marathon.local.servers import ServerProcess
from marathon.local.stack import ThreadedServer

__all__ = ["BENCHMARKS", "Harness", "Options", "harness", "machine", "register"]

Benchmark = Callable[["Harness", "Options"], dict[str, Any]]
BENCHMARKS: dict[str, Benchmark] = {}

ZERO = "db_latency_ms=0, email_latency_ms=0"
FIDELITY = "db_latency_ms=40, db_latency_spread=0, email_latency_ms=400, email_latency_spread=0"
# What each strategy makes the client wait for, by design (ms), at FIDELITY's latencies.
DESIGNED_MS = {"sequential": 440, "fire-and-forget": 40, "concurrent": 0, "wait-until": 40}
DESIGNED_MS["queued"] = 40
SAMPLED = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}
UNFINISHED = "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"


def register(name: str) -> Callable[[Benchmark], Benchmark]:
    """Make `fn` the benchmark `marathon bench NAME` runs."""
    if name not in arguments.BENCHMARKS:
        raise ValueError(f"declare {name!r} in marathon.bench.arguments.BENCHMARKS (for --help)")

    def add(fn: Benchmark) -> Benchmark:
        BENCHMARKS[name] = fn
        return fn

    return add


@dataclass(frozen=True)
class Options:
    quick: bool = False
    repeat: int = 3
    duration_s: float = 5.0
    connections: int = 16
    burst: int = 2000  # memory's burst
    queue_jobs: int = 1000
    workers: tuple[int, ...] = (1, 2, 4)
    fidelity_repeat: int = 5
    prefer_wrk: bool = True
    outage_s: float = 60.0
    registrations: int = 100  # queued during the outage
    shutdown_burst: int = 200  # registrations per strategy
    shutdown_concurrency: int = 20
    shutdown_knobs: str = ""  # a Marathon-Knobs header; empty: the server's knobs
    shutdown_together: bool = False

    @classmethod
    def quick_variant(cls) -> Options:
        return cls(
            quick=True,
            repeat=1,
            duration_s=1.0,
            connections=8,
            burst=100,
            queue_jobs=60,
            workers=(1, 2),
            fidelity_repeat=1,
            outage_s=3.0,
            registrations=5,
            shutdown_burst=20,
            shutdown_concurrency=5,
            shutdown_together=True,
        )


def spread(values: Sequence[float]) -> dict[str, float]:
    """min / median / max of one figure's samples."""
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


async def _sink(scope: Any, receive: Any, send: Any) -> None:
    """An OTLP/HTTP endpoint that accepts and discards (the export's cost is the server's)."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-type", b"application/x-protobuf")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


@dataclass
class Harness:
    """Embedded PostgreSQL, the sandbox and an OTLP sink, and servers started on demand."""

    tmp: Path
    database_url: str
    sandbox: ServerProcess
    otlp: ThreadedServer
    prefer_wrk: bool = True
    servers: list[ServerProcess] = field(default_factory=list)

    def env(self, *, tracing: bool = True, otlp: bool = True, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MARATHON_"))}
        env.update(
            DATABASE_URL=self.database_url,
            RESEND_API_URL=self.sandbox.url,
            MARATHON_EMAIL_SANDBOX="1",
            MARATHON_DATA_DIR=str(self.tmp),
            MARATHON_WORKER="off",
            MARATHON_TRACING="on" if tracing else "off",
        )
        if tracing and otlp:
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = self.otlp.url
        env.update(extra)
        return env

    def start(self, *args: str, health: str = "/api/health", **env: Any) -> ServerProcess:
        """`marathon ARGS` launched (not waited for: `.start()` waits), stopped at the end."""
        log = self.tmp / f"{args[0]}-{len(self.servers)}.log"
        server = ServerProcess(args, self.env(**env), health=health, log=log).launch()
        self.servers.append(server)
        return server

    def api(self, **env: Any) -> ServerProcess:
        return self.start("serve", **env)

    def load(self, server: ServerProcess, strategy: str, **kw: Any) -> dict[str, Any]:
        knobs = kw.pop("knobs", ZERO)  # None: no header, the server's own knobs
        headers = [f"Marathon-Knobs: {knobs}"] if knobs else []
        path = f"/api/marathon/{strategy}"
        return loadgen.run(server.url, path, headers=headers, prefer_wrk=self.prefer_wrk, **kw)

    def settle(self, server: ServerProcess, timeout: float = 120) -> None:
        """Until the server's wait_until work has drained."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if httpx.get(server.url + "/api/background", timeout=10).json()["pending"] == 0:
                return
            time.sleep(0.1)

    def query(self, sql: str) -> int:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            row = conn.execute(sql).fetchone()
            return int(row[0]) if row else 0


@contextlib.contextmanager
def harness(prefer_wrk: bool = True) -> Iterator[Harness]:
    with (
        tempfile.TemporaryDirectory(prefix="marathon-bench-") as tmp,
        postgres.embedded_server(Path(tmp) / "pgdata", ephemeral=True) as url,
        ThreadedServer(_sink) as otlp,
    ):
        # The sandbox plays the external email API: its own tracing is not ours to measure.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MARATHON_"))}
        env["MARATHON_TRACING"] = "off"
        log = Path(tmp) / "sandbox.log"
        sandbox = ServerProcess(["sandbox"], env, health="/health", log=log).start()
        h = Harness(Path(tmp), url, sandbox, otlp, prefer_wrk)
        try:
            yield h
        finally:
            for s in [*h.servers, sandbox]:
                s.stop(kill=True)


@contextlib.contextmanager
def sampling(server: ServerProcess, every_s: float = 0.2) -> Iterator[list[dict[str, float]]]:
    """Samples of the server's pending background work and RSS, from a thread, while open."""
    samples: list[dict[str, float]] = []
    done = threading.Event()
    start = time.monotonic()

    def watch() -> None:
        while not done.is_set():
            with contextlib.suppress(httpx.HTTPError):
                bg = httpx.get(server.url + "/api/background", timeout=30).json()
                samples.append(
                    {
                        "t": time.monotonic() - start,
                        "pending": bg["pending"],
                        "rss_kb": server.rss_kb(),
                    }
                )
            done.wait(every_s)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield samples
    finally:
        done.set()
        watcher.join()


def _cpu_round(h: Harness, server: ServerProcess, o: Options, strategy: str) -> dict[str, float]:
    before = server.cpu_ms()
    result = h.load(server, strategy, duration=o.duration_s, connections=o.connections)
    h.settle(server)
    cpu = server.cpu_ms() - before
    n = max(1, result["requests"])
    return {
        "cpu_ms_per_request": cpu / n,
        "requests_per_s": n / result["duration_s"],
        "requests": n,
        "non2xx": result["non2xx"] + result["errors"],
        "client": result["client"],
    }


@register("throughput")
def throughput(h: Harness, o: Options) -> dict[str, Any]:
    """wait-until at 0 injected latency: tracing on (store and OTLP export), store only,
    MARATHON_TRACING=off, and on with 1 trace in 10 sampled, in rounds alternating between four
    servers that run side by side."""
    sides = {
        "on": h.api(tracing=True),  # the in-process store and OTLP export
        "store_only": h.api(tracing=True, otlp=False),
        "off": h.api(tracing=False),
        # What head sampling would save: 1 trace in 10 recorded (the standard variables).
        "sampled": h.api(tracing=True, **SAMPLED),
    }
    for s in sides.values():
        s.start()
        if not o.quick:  # warm-up
            h.load(s, "wait-until", duration=1, connections=o.connections)
            h.settle(s)
    rounds = [
        {side: _cpu_round(h, server, o, "wait-until") for side, server in sides.items()}
        for _ in range(o.repeat)
    ]
    for s in sides.values():
        s.stop()

    def figures(side: str) -> dict[str, dict[str, float]]:
        return {
            key: spread([r[side][key] for r in rounds])
            for key in ("cpu_ms_per_request", "requests_per_s")
        }

    def over_off(side: str) -> dict[str, float]:
        return spread(
            [r[side]["cpu_ms_per_request"] / r["off"]["cpu_ms_per_request"] for r in rounds]
        )

    return {
        "strategy": "wait-until",
        "knobs": ZERO,
        "client": rounds[0]["on"]["client"],
        "connections": o.connections,
        "tracing_on": figures("on"),
        "tracing_store_only": figures("store_only"),
        "tracing_off": figures("off"),
        "tracing_sampled_10pct": figures("sampled"),
        "on_over_off": over_off("on"),
        "store_only_over_off": over_off("store_only"),
        "sampled_over_off": over_off("sampled"),
        "failed_requests": sum(r[side]["non2xx"] for r in rounds for side in sides),
    }


@register("memory")
def memory(h: Harness, o: Options) -> dict[str, Any]:
    """RSS per piece of pending background work: a burst while every email takes 20 s."""
    # 20 s is past what one request may ask for (10 s): the servers start with it instead,
    # and the warm-up asks for quick emails.
    slow = {
        "MARATHON_DB_LATENCY_MS": "0",
        "MARATHON_EMAIL_LATENCY_MS": "20000",
        "MARATHON_EMAIL_LATENCY_SPREAD": "0",
    }
    quick = "db_latency_ms=0, email_latency_ms=0"
    results = {}
    strategies = ("wait-until", "concurrent")
    limit = str(2 * o.burst + 10)
    servers = [h.api(MARATHON_WAIT_UNTIL_MAX_PENDING=limit, **slow) for _ in strategies]
    for strategy, server in zip(strategies, servers, strict=True):
        server.start()
        h.load(server, "wait-until", count=10 if o.quick else 50, connections=8, knobs=quick)
        h.settle(server)
        base = server.rss_kb()
        with sampling(server) as samples:
            burst = h.load(server, strategy, count=o.burst, connections=50, knobs=None)
            time.sleep(1)
        peak = max(samples, key=lambda x: (x["pending"], x["rss_kb"]))
        results[strategy] = {
            "requests": burst["requests"],
            "failed_requests": burst["non2xx"] + burst["errors"],
            "pending": int(peak["pending"]),
            "rss_base_mb": base / 1024,
            "rss_peak_mb": peak["rss_kb"] / 1024,
            "kb_per_pending": (peak["rss_kb"] - base) / max(1, peak["pending"]),
        }
        server.stop(kill=True)  # 20 s emails: no need to wait for them
    return results


@register("sustained")
def sustained(h: Harness, o: Options) -> dict[str, Any]:
    """concurrent and wait-until under sustained load with the default knobs (40 ms database,
    400 ms email): what is stored, sent and pending as the load goes on."""
    results = {}
    strategies = ("concurrent", "wait-until")
    servers = [h.api() for _ in strategies]  # start together
    for strategy, server in zip(strategies, servers, strict=True):
        server.start()
        stored0 = h.query("SELECT count(*) FROM runners")
        sent0 = httpx.get(h.sandbox.url + "/outbox", timeout=30).json()["count"]
        duration = max(o.duration_s * 2, 2)
        with sampling(server, 0.5) as samples:
            result = h.load(
                server,
                strategy,
                duration=duration,
                connections=32,
                knobs="db_latency_ms=40, email_latency_ms=400",
            )
        stored = h.query("SELECT count(*) FROM runners") - stored0
        sent = httpx.get(h.sandbox.url + "/outbox", timeout=30).json()["count"] - sent0
        results[strategy] = {
            "seconds": duration,
            "requests": result["requests"],
            "rejected_503": result["non2xx"],
            "stored_at_end": stored,
            "emails_sent_at_end": sent,
            "pending_max": max((s["pending"] for s in samples), default=0),
            "rss_max_mb": max((s["rss_kb"] for s in samples), default=0) / 1024,
            "p50_ms": result["p50_ms"],
        }
        server.stop(kill=True)
    return results


def _postgres_cpu_ms(h: Harness) -> float:
    """utime + stime of the embedded PostgreSQL: the postmaster, its live processes and the
    ones that have exited (its children's times)."""
    pid = int((h.tmp / "pgdata" / "postmaster.pid").read_text().split()[0])
    total = 0.0
    try:
        postmaster = psutil.Process(pid)
        procs = [postmaster, *postmaster.children()]
    except psutil.Error:
        return 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total * 1000


@register("queue")
def queue_rate(h: Harness, o: Options) -> dict[str, Any]:
    """Emails/s delivered by 1, 2 and 4 `marathon worker` processes (default settings), jobs
    enqueued beforehand at 0 latency; timed from 10% to 90% of the batch (no start-up).

    CPU per email: the workers' whole lives (start-up included), and over the same 10-90%
    window the workers', the sandbox's and PostgreSQL's, which share the machine's cores."""
    api = h.api().start()
    rates: dict[int, list[float]] = {n: [] for n in o.workers}
    cpu_per_email: list[float] = []  # workers' CPU, start-up included
    steady: dict[int, dict[str, list[float]]] = {
        n: {"workers": [], "sandbox": [], "postgres": []} for n in o.workers
    }
    # One connection for the polling: a new one every 50 ms was a new PostgreSQL backend
    # (a fork) each time, CPU taken from the workers being measured.
    poll = psycopg.connect(h.database_url, autocommit=True)
    for _ in range(o.repeat):
        for n in o.workers:
            h.load(api, "queued", count=o.queue_jobs, connections=16)
            workers = [h.start("worker", health="") for _ in range(n)]
            marks: dict[float, float] = {}
            cpu: dict[float, dict[str, float]] = {}
            deadline = time.monotonic() + (120 if o.quick else 300)
            while time.monotonic() < deadline:
                row = poll.execute(UNFINISHED).fetchone()
                left = int(row[0]) if row else 0
                delivered = o.queue_jobs - left
                now = time.monotonic()
                for share in (0.1, 0.9):
                    if share not in marks and delivered >= share * o.queue_jobs:
                        marks[share] = now
                        cpu[share] = {
                            "workers": sum(w.cpu_ms() for w in workers),
                            "sandbox": h.sandbox.cpu_ms(),
                            "postgres": _postgres_cpu_ms(h),
                        }
                if not left:  # the whole batch, before the next round
                    break
                time.sleep(0.05)
            cpu_per_email.append(sum(w.cpu_ms() for w in workers) / o.queue_jobs)
            for w in workers:
                w.stop()
            if 0.9 not in marks:
                raise RuntimeError(f"workers did not deliver the batch: {workers[0].name}")
            rates[n].append(0.8 * o.queue_jobs / max(0.001, marks[0.9] - marks[0.1]))
            for part, samples in steady[n].items():
                samples.append((cpu[0.9][part] - cpu[0.1][part]) / (0.8 * o.queue_jobs))
    poll.close()
    api.stop()
    one = rates[o.workers[0]]
    return {
        "jobs_per_round": o.queue_jobs,
        "worker_cpu_ms_per_email": spread(cpu_per_email),
        "steady_cpu_ms_per_email": {
            str(n): {part: spread(samples) for part, samples in parts.items()}
            for n, parts in steady.items()
        },
        "emails_per_s": {str(n): spread(r) for n, r in rates.items()},
        "over_one_worker": {
            str(n): spread([a / b for a, b in zip(r, one, strict=True)])
            for n, r in rates.items()
            if n != o.workers[0]
        },
    }


@register("fidelity")
def fidelity(h: Harness, o: Options) -> dict[str, Any]:
    """Median client wait against the designed wait, at 40 ms database / 400 ms email."""
    api = h.api(MARATHON_WORKER="on").start()
    comparison = compare.run(api.url, knobs_header=FIDELITY, repeat=o.fidelity_repeat)
    api.stop()
    rows = {}
    for strategy, designed in DESIGNED_MS.items():
        waited = float(comparison.summary(strategy)["client_ms"])
        allowed = max(3.0, 0.05 * designed)
        rows[strategy] = {
            "designed_ms": designed,
            "median_client_ms": waited,
            "over_ms": waited - designed,
            "allowed_ms": allowed,
            "within": abs(waited - designed) <= allowed,
        }
    return {"knobs": FIDELITY, "repeat": o.fidelity_repeat, "strategies": rows}


@register("cold_start")
def cold_start(h: Harness, o: Options) -> dict[str, Any]:
    """`marathon demo --once` in an empty data folder: seconds until its comparison prints."""
    if o.quick:
        return {"skipped": "--quick: `marathon demo --once` is the CLI tests' job"}
    times, totals = [], []
    for i in range(o.repeat):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MARATHON_"))}
        env.update(MARATHON_DATA_DIR=str(h.tmp / f"cold-{i}"), MARATHON_SANDBOX_PORT="0")
        start = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "marathon", "demo", "--once", "--port", "0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        first = None
        for line in proc.stdout:
            if first is None and "queued" in line:  # the table's last row
                first = time.monotonic() - start
        proc.wait(120)
        times.append(first or float("nan"))
        totals.append(time.monotonic() - start)
    return {"to_comparison_s": spread(times), "to_exit_s": spread(totals)}


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import platform

    versions = {}
    for name in (
        "litestar",
        "uvicorn",
        "httpx",
        "aiohttp",
        "uvloop",
        "psycopg",
        "procrastinate",
        "resend",
        "opentelemetry-sdk",
    ):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions[name] = version(name)
    wrk = shutil.which("wrk")
    wrk_version = ""
    if wrk:
        out = subprocess.run([wrk, "--version"], capture_output=True, text=True)
        wrk_version = (out.stdout or out.stderr).splitlines()[0]
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": os.getloadavg(),
        "wrk": wrk_version or None,
        "versions": versions,
    }
