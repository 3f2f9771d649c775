"""Helpers for the Jupyter walkthroughs in `notebooks/`: one object, `Lab`, that a learner drives.

`start()` brings up a throwaway stack inside the kernel (embedded PostgreSQL in a temporary
folder, the Resend sandbox and the API, each on a free port), or talks to a running server when
`MARATHON_URL` is set. A watchdog process (`marathon.local.watchdog`) stops that PostgreSQL if the
kernel dies without cleaning up. Log lines are collected in `lab.logs` instead of going to the
kernel's stderr, so a learner sees no red noise, only what a cell chooses to show.

Usage::

    from marathon.lab import notebook
    lab = notebook.start()
    run = lab.register("sequential", email_latency_ms=300)
    run.client_ms, run.stored, run.delivered   # what the client waited, what really happened
    run.verdicts, run.lost                     # judged by marathon.outcomes: ("kept",), False
    lab.show(run)                              # the waterfall, inline (SVG), with trace links
    lab.stop()                                 # last cell: stops what start() started
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import gc
import importlib
import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import httpx

from marathon import knobs
from marathon.lab import scenario_runner
from marathon.lab.compare import Comparison, trace_links
from marathon.lab.measure import Measurement, background_failures, observe, post, register
from marathon.lab.scenario_runner import SCENARIOS
from marathon.lab.scenario_runner import run as run_scenario
from marathon.lab.shared_knobs import put_knobs, shared_knobs
from marathon.local import stack
from marathon.local.stack import ThreadedServer
from marathon.outcomes import judge
from marathon.service import fake
from marathon.service.settings import Settings
from marathon.strategies import STRATEGIES
from marathon.tracing import EMAIL_SPAN, ScrubbingFilter
from marathon.views import svg
from marathon.views.waterfall import Waterfall, from_jaeger

__all__ = [
    "Burst",
    "Lab",
    "LogBook",
    "LogLine",
    "Run",
    "SpanFacts",
    "compare_guess",
    "knobs_header",
    "never_retrieved_demo",
    "start",
    "strategies",
]

# Notebooks want sharp, repeatable pictures: no random spread around the latencies.
STEADY = {"email_latency_spread": 0, "db_latency_spread": 0}

# Who owns a strategy's email work, for traces made before spans carried `marathon.owner`.
OWNER_OF = {
    "sequential": "request",
    "fire-and-forget": "nobody",
    "concurrent": "wait_until",
    "wait-until": "wait_until",
    "queued": "queue",
}


def knobs_header(**overrides: Any) -> str:
    """The `Marathon-Knobs` header for these knobs; a bad name or value says which and why."""
    text = ", ".join(f"{name}={value}" for name, value in overrides.items())
    knobs.parse_overrides(text)  # raises KnobError with a readable message
    return text


@dataclass(frozen=True)
class LogLine:
    level: str
    logger: str
    message: str  # the first line only: tracebacks stay out of the learner's view
    trace_id: str | None

    def __str__(self) -> str:
        where = (
            f" (trace {self.trace_id})"
            if self.trace_id and self.trace_id not in self.message
            else ""
        )
        return f"{self.level:<7} {self.logger}: {self.message}{where}"


class LogBook(logging.Handler):
    """Keeps the last log lines in memory (scrubbed like the console's) instead of printing."""

    def __init__(self, size: int = 500) -> None:
        super().__init__(logging.INFO)
        self.lines: deque[LogLine] = deque(maxlen=size)
        self.total = 0
        self.addFilter(ScrubbingFilter())

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        trace_id = getattr(record, "trace_id", None)
        self.lines.append(LogLine(record.levelname, record.name, text.split("\n", 1)[0], trace_id))
        self.total += 1

    def mark(self) -> int:
        """A bookmark for `since()`: how many lines were kept so far."""
        return self.total

    def since(self, mark: int) -> list[LogLine]:
        """The lines kept after `mark` (as many as the book still holds)."""
        new = min(self.total - mark, len(self.lines))
        return list(self.lines)[-new:] if new > 0 else []


@dataclass(frozen=True)
class SpanFacts:
    """One span as a learner asks about it: who owned the work, and how it ended."""

    name: str
    owner: str | None  # request | wait_until | nobody | queue
    outcome: str  # finished | failed | cancelled_at_shutdown | cancelled_by_freeze | ...
    after_response: bool
    start_ms: float
    end_ms: float
    message: str | None
    from_span: bool  # owner and outcome read from the span's attributes (else inferred)


def _outcome(status: str, message: str | None) -> str:
    if status == "ok":
        return "finished"
    if status == "cancelled":
        text = message or ""
        if "frozen" in text or "serverless" in text:
            return "cancelled_by_freeze"
        return "cancelled_at_shutdown"
    return "failed"


@dataclass
class Run:
    """One registration: what the client waited for, and what really happened."""

    measurement: Measurement
    links: dict[str, str] = field(default_factory=dict)

    @property
    def strategy(self) -> str:
        return self.measurement.strategy

    @property
    def status(self) -> int:
        return self.measurement.status

    @property
    def client_ms(self) -> float:
        return self.measurement.client_ms

    @property
    def stored(self) -> bool | None:
        return self.measurement.stored

    @property
    def delivered(self) -> bool | None:
        return self.measurement.delivered

    @property
    def verdicts(self) -> tuple[str, ...]:
        """The verdicts of `marathon.outcomes` on it, most important first."""
        return judge(self.measurement.outcome()).keys

    @property
    def lost(self) -> bool:
        """Its email is lost: the user was told yes (or it is stored), and none arrived."""
        return "email_lost" in self.verdicts

    @property
    def trace_id(self) -> str | None:
        return self.measurement.trace_id

    @property
    def waterfall(self) -> Waterfall | None:
        trace = self.measurement.trace
        # A queued job's attempts are traces of their own, linked to the request: drawn in.
        return from_jaeger(trace, self.measurement.attempt_traces) if trace else None

    def spans(self) -> list[SpanFacts]:
        """Every span, with `marathon.owner`/`marathon.outcome` when the spans carry them."""
        trace, waterfall = self.measurement.trace, self.waterfall
        if not trace or not waterfall:
            return []
        spans = [s for t in (trace, *self.measurement.attempt_traces) for s in t["spans"]]
        tags = {s["spanID"]: {t["key"]: t["value"] for t in s.get("tags", [])} for s in spans}
        facts = []
        for bar in waterfall.bars:
            own = tags.get(bar.span_id, {})
            owner = own.get("marathon.owner")
            # A span cut off with a cancelled one carries that one's outcome (views.waterfall).
            outcome = own.get("marathon.outcome") or bar.outcome
            if owner is None and bar.name == EMAIL_SPAN:
                owner = OWNER_OF.get(self.strategy)
            facts.append(
                SpanFacts(
                    name=bar.name,
                    owner=owner,
                    outcome=str(outcome) if outcome else _outcome(bar.status, bar.message),
                    after_response=bar.after_response,
                    start_ms=bar.start_ms,
                    end_ms=bar.end_ms,
                    message=bar.message,
                    from_span="marathon.owner" in own or "marathon.outcome" in own,
                )
            )
        return facts

    def span(self, name: str = EMAIL_SPAN) -> SpanFacts | None:
        """The first span with this name (the confirmation email by default)."""
        return next((s for s in self.spans() if s.name == name), None)


@dataclass(frozen=True)
class Burst:
    """What a burst of registrations saw: statuses, client waits, pending work over time."""

    strategy: str
    statuses: list[int]
    client_ms: list[float]
    # (ms since the burst began, wait_until, queue): from a sample taken before the first
    # request to one taken once all of the burst's work is done.
    samples: list[tuple[float, int, int]]
    bodies: list[dict[str, Any]] = field(default_factory=list, repr=False)  # what was sent
    runner_ids: list[str | None] = field(default_factory=list, repr=False)  # 503s too (extra)
    retry_after_s: float | None = None  # the longest Retry-After the server answered with

    def percentile(self, p: float) -> float:
        """The p-th percentile of the client waits (nearest rank: the ceil(p% of n)-th fastest,
        so with fewer than 100 requests p99 is the slowest one)."""
        ordered = sorted(self.client_ms)
        rank = max(1, math.ceil(p / 100 * len(ordered)))
        return ordered[rank - 1]

    @property
    def rejected(self) -> int:
        return sum(1 for s in self.statuses if s == 503)

    def answered(self, status: int) -> list[dict[str, Any]]:
        """The bodies of the registrations answered `status` (to send them again)."""
        return [b for b, s in zip(self.bodies, self.statuses, strict=True) if s == status]


def _quiet_servers() -> None:
    """uvicorn installs its own console handlers: send its lines to the log book instead."""
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def _ipython_display() -> tuple[Any, Any, Any]:
    """IPython's HTML, SVG and display (untyped; imported only when a notebook shows something)."""
    ipd: Any = importlib.import_module("IPython.display")
    return ipd.HTML, ipd.SVG, ipd.display


class Lab:
    """A marathon to experiment with: the embedded stack, or a server at `url`."""

    def __init__(self, url: str, *, jaeger_ui_url: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.jaeger_ui_url = jaeger_ui_url
        self.settings: Settings | None = None  # the embedded stack's (None for a server at url)
        self.logs = LogBook()
        self.client = httpx.Client(base_url=self.url, timeout=60)
        self._stack = ExitStack()
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._folder: Path | None = None
        self.embedded = False
        self._logging_before: list[tuple[logging.Logger, int]] = []

    # --- starting and stopping -------------------------------------------------------------

    @classmethod
    def embedded_stack(cls) -> Lab:
        folder = Path(tempfile.mkdtemp(prefix="marathon-notebook-"))
        lab = cls("http://unused")
        lab._folder, lab.embedded = folder, True
        lab._capture_logs()
        # Before PostgreSQL starts: if the kernel dies from here on, the watchdog cleans up.
        lab._watchdog = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "marathon.local.watchdog",
                str(os.getpid()),
                str(folder / "pgdata"),
                str(folder),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Jupyter signals the kernel's process group: not us
        )
        try:
            settings = Settings.from_env().with_(
                database_url=None,
                data_dir=folder,
                resend_api_url=None,
                email_sandbox=True,
                sandbox_port=0,
            )
            running = lab._stack.enter_context(stack.running(settings, ephemeral_db=True))
            lab.settings = running.settings
            api = lab._stack.enter_context(lab._server(running.settings))
        except BaseException:
            lab.stop()
            raise
        lab.url = api.url
        lab.client = httpx.Client(base_url=api.url, timeout=60)
        lab.jaeger_ui_url = os.environ.get("JAEGER_UI_URL") or running.settings.jaeger_ui_url
        atexit.register(lab.stop)
        lab.warm_up()
        return lab

    @classmethod
    def remote(cls, url: str) -> Lab:
        lab = cls(url)
        lab._capture_logs()
        info = lab.client.get("/api/info")
        info.raise_for_status()
        lab.jaeger_ui_url = os.environ.get("JAEGER_UI_URL") or info.json().get("jaeger_ui_url")
        return lab

    def warm_up(self) -> float:
        """One registration nobody measures, so the first one a learner measures costs only
        what its question says. The first email of a process builds the TLS context (certifi
        parsed, even for plain http), opens the connection pool and wakes the sandbox: 20 ms
        here, about 100 ms on a busy laptop, and it looked like part of the email's 300 ms.
        Returns what that cold registration waited (ms)."""
        cold = {"email_latency_ms": 0, "db_latency_ms": 0}
        return post(self.client, "sequential", knobs_header=self.header(cold)).client_ms

    def _capture_logs(self) -> None:
        root = logging.getLogger()
        # a line per request; uvicorn (its access log, its start-up) follows these levels
        chatty = [logging.getLogger(n) for n in ("httpx", "httpcore", "uvicorn")]
        self._logging_before = [(root, root.level), *((c, c.level) for c in chatty)]
        root.addHandler(self.logs)
        root.setLevel(logging.INFO)
        for logger in chatty:
            logger.setLevel(logging.WARNING)
        logging.captureWarnings(True)  # library warnings join the log book, not stderr
        _quiet_servers()

    def _release_logs(self) -> None:
        logging.getLogger().removeHandler(self.logs)
        for logger, level in self._logging_before:
            logger.setLevel(level)
        self._logging_before = []
        logging.captureWarnings(False)

    def _server(self, settings: Settings) -> ThreadedServer:
        from marathon.app import create_app  # heavy (the app, tracing): only the embedded stack

        server = ThreadedServer(
            create_app(settings, run_scenario=scenario_runner.for_server), log_config=None
        )
        _quiet_servers()
        return server

    def stop(self) -> None:
        """Stop what `start()` started (nothing for a server at MARATHON_URL); safe twice."""
        with contextlib.suppress(Exception):
            self.client.close()
        self._stack.close()
        if self._watchdog is not None:
            self._watchdog.terminate()
            self._watchdog.wait(5)
            self._watchdog = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
        self._release_logs()
        atexit.unregister(self.stop)

    def describe(self) -> str:
        where = "a throwaway stack in this kernel" if self.embedded else "the server at"
        lines = [f"Ready: {where} {self.url}"]
        if self.settings and self.settings.resend_api_url:
            lines.append(f"  email outbox: {self.settings.resend_api_url}/")
        if self.jaeger_ui_url:
            lines.append(f"  Jaeger UI:    {self.jaeger_ui_url}")
        return "\n".join(lines)

    # --- experiments ----------------------------------------------------------------------

    def header(self, overrides: dict[str, Any]) -> str:
        return knobs_header(**{**STEADY, **overrides})

    @contextlib.contextmanager
    def _knobs(self, overrides: dict[str, Any]) -> Iterator[str]:
        """The header for the per-request knobs. Shared ones (wait_until's limits, the queue's
        retry policy), which no header may change, are set on the server for the experiment
        (PUT /api/knobs) and put back after it."""
        shared = {k: v for k, v in overrides.items() if knobs.is_shared(k)}
        header = self.header({k: v for k, v in overrides.items() if k not in shared})
        with shared_knobs(self.client, shared):
            yield header

    def trace_links(self, trace_id: str | None) -> dict[str, str]:
        return trace_links(self.url, trace_id, self.jaeger_ui_url)

    def _run(self, m: Measurement) -> Run:
        return Run(m, self.trace_links(m.trace_id))

    def register(
        self, strategy: str, *, body: dict[str, Any] | None = None, **overrides: Any
    ) -> Run:
        """Register one runner with a strategy and these knobs; wait until its work settled."""
        if strategy not in STRATEGIES:
            raise ValueError(f"no strategy {strategy!r}; pick one of {', '.join(STRATEGIES)}")
        with self._knobs(overrides) as header:
            m = register(self.client, strategy, body=body, knobs_header=header)
        return self._run(m)

    def repeat(self, strategy: str, times: int, **overrides: Any) -> list[Run]:
        return [self.register(strategy, **overrides) for _ in range(times)]

    def after_shutdown(self, strategy: str, **overrides: Any) -> Run:
        """One registration on a server of its own, stopped right after the response (what
        SIGTERM does: stop accepting, finish requests, drain wait_until, close the loop)."""
        if self.settings is None:  # a shared server: ask it to run the scenario itself
            doc = self.client.post("/api/scenarios/shutdown-mid-flight").json()
            return self._run(Comparison.from_json(doc).typical(strategy))
        failures = background_failures(self.client)
        # Shared knobs are process-wide: the second server, in this process, sees them too.
        with self._knobs(overrides) as header:
            server = self._server(self.settings.with_(worker_in_process=False)).start()
            try:
                with httpx.Client(base_url=server.url, timeout=60) as client:
                    m = post(client, strategy, knobs_header=header)
            finally:
                server.stop()
                _quiet_servers()
        observe(self.client, m)  # same database, sandbox and trace store: the outcome shows
        m.logged = background_failures(self.client) > failures
        return self._run(m)

    def scenario(self, name: str) -> Comparison:
        """Run one of `marathon scenarios` (email-outage, db-outage, ...) against this lab."""
        if name not in SCENARIOS:
            raise ValueError(f"no scenario {name!r}; pick one of {', '.join(SCENARIOS)}")
        if self.settings is None or SCENARIOS[name].shutdown:
            r = self.client.post(f"/api/scenarios/{name}")
            r.raise_for_status()
            return Comparison.from_json(r.json())
        return run_scenario(SCENARIOS[name], self.url)

    def set_knobs(self, **values: Any) -> dict[str, Any]:
        """Change the server's knobs for every request (PUT /api/knobs); returns the values they
        replaced (those that changed): `lab.set_knobs(**old)` puts them back."""
        return put_knobs(self.client, values)

    def queue(self) -> dict[str, Any]:
        """Queued confirmations by state, and the dead letters (GET /api/queue)."""
        return dict(self.client.get("/api/queue").json())

    def background(self) -> dict[str, int]:
        """wait_until's bookkeeping (GET /api/background): pending, started, failed, dropped."""
        return dict(self.client.get("/api/background").json())

    def outbox(self, idempotency_key: str | None = None) -> list[dict[str, Any]]:
        """The emails the sandbox accepted, newest first (embedded stack only; [] otherwise);
        `idempotency_key` (a runner id) narrows them to one registration."""
        if not self.settings or not self.settings.resend_api_url:
            return []
        params = {"idempotency_key": idempotency_key} if idempotency_key else {}
        r = httpx.get(f"{self.settings.resend_api_url}/outbox", params=params, timeout=10)
        return list(r.json()["data"]) if r.status_code == 200 else []

    def registration(self, run: Run) -> dict[str, Any]:
        """What the server knows of a run's registration (GET /api/registrations/{id})."""
        return dict(self.client.get(f"/api/registrations/{run.measurement.runner_id}").json())

    def time_only(self, strategy: str, **overrides: Any) -> float:
        """POST one registration and return only what the client waited (no settling)."""
        with self._knobs(overrides) as header:
            return post(self.client, strategy, knobs_header=header).client_ms

    def burst(
        self,
        strategy: str,
        requests: int | None = None,
        *,
        bodies: Sequence[dict[str, Any]] | None = None,
        concurrency: int = 10,
        **overrides: Any,
    ) -> Burst:
        """`requests` registrations of fictional runners (or these `bodies`, e.g. a burst's
        `answered(503)` sent again) from `concurrency` clients at once; samples the pending
        background work (wait_until's, and the queue's) every 50 ms until all of it is done."""
        if bodies is None:
            bodies = [fake.runner() for _ in range(requests or 0)]
        with self._knobs(overrides) as header:
            return self._burst(strategy, list(bodies), concurrency, header)

    def _burst(
        self, strategy: str, bodies: list[dict[str, Any]], concurrency: int, header: str
    ) -> Burst:
        samples: list[tuple[float, int, int]] = []
        done = threading.Event()
        t0 = 0.0

        def sample(c: httpx.Client) -> tuple[int, int]:
            pending = int(c.get("/api/background").json()["pending"])
            counts = c.get("/api/queue").json()["counts"]
            queued = sum(counts[s] for s in ("queued", "sending", "retrying"))
            samples.append(((time.perf_counter() - t0) * 1000, pending, queued))
            return pending, queued

        def sampling(c: httpx.Client) -> None:
            while sample(c) != (0, 0) or not done.is_set():
                time.sleep(0.05)

        retry_after: list[float] = []

        def note_retry_after(response: httpx.Response) -> None:
            if "retry-after" in response.headers:
                retry_after.append(float(response.headers["retry-after"]))

        # One client for all the threads (httpx's is thread-safe): a client per request would
        # spend the burst building TLS contexts, in the same process as the server.
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        hooks = {"response": [note_retry_after]}
        with (
            httpx.Client(base_url=self.url, timeout=10) as watcher,
            httpx.Client(base_url=self.url, timeout=60, limits=limits, event_hooks=hooks) as c,
        ):
            c.get("/api/health")  # opens a connection: time only the registrations
            t0 = time.perf_counter()
            sample(watcher)  # at 0 ms, before the first request
            sampler = threading.Thread(target=sampling, args=(watcher,), daemon=True)
            sampler.start()
            with ThreadPoolExecutor(concurrency) as pool:
                results = list(
                    pool.map(lambda b: post(c, strategy, body=b, knobs_header=header), bodies)
                )
            done.set()
            sampler.join(60)
        return Burst(
            strategy,
            [m.status for m in results],
            [m.client_ms for m in results],
            samples,
            bodies,
            [m.runner_id for m in results],
            max(retry_after, default=None),
        )

    def stored(self, burst: Burst) -> dict[int, dict[str, int]]:
        """Per HTTP status of a burst: how many answers, rows stored and emails sent (the
        outbox's count for each registration), read from GET /api/registrations/{id}."""
        table: dict[int, dict[str, int]] = {}
        for status, runner_id in zip(burst.statuses, burst.runner_ids, strict=True):
            row = table.setdefault(status, {"answers": 0, "stored": 0, "emails": 0})
            row["answers"] += 1
            if runner_id:
                known = self.client.get(f"/api/registrations/{runner_id}").json()
                row["stored"] += bool(known["stored"])
                row["emails"] += known["email"].get("sent") or 0
        return table

    # --- showing --------------------------------------------------------------------------

    def show(self, *things: Run | Waterfall | Comparison, axis_ms: float | None = None) -> None:
        """Waterfalls inline (SVG, one time axis), then each trace's links."""
        HTML, SVG, display = _ipython_display()
        waterfalls: list[Waterfall] = []
        links: list[tuple[str, dict[str, str]]] = []
        for thing in things:
            if isinstance(thing, Run):
                if thing.waterfall:
                    waterfalls.append(thing.waterfall)
                    links.append((thing.strategy, thing.links))
            elif isinstance(thing, Comparison):
                waterfalls.extend(thing.waterfalls())
                for s in thing.runs:
                    links.append((s, self.trace_links(thing.typical(s).trace_id)))
            else:
                waterfalls.append(thing)
        if not waterfalls:
            display(HTML("<p><i>No trace to show (tracing may be off on this server).</i></p>"))
            return
        display(SVG(svg.svg(waterfalls, axis_ms=axis_ms)))
        rows = [
            f"<b>{escape(label)}</b>: "
            + " · ".join(
                f'<a href="{escape(u)}" target="_blank">{escape(k)}</a>' for k, u in ls.items()
            )
            for label, ls in links
            if ls
        ]
        if rows:
            display(HTML("<p style='font-size:90%'>traces: " + " &nbsp; ".join(rows) + "</p>"))

    def table(self, runs: Iterable[Run]) -> None:
        """What the client waited for against what really happened, one row per run."""
        HTML, _, display = _ipython_display()

        def yes(v: bool | None) -> str:
            return {True: "yes", False: "<b style='color:#c62828'>NO</b>", None: "?"}[v]

        columns = ("strategy", "HTTP", "client waited", "row stored", "email sent")
        head = "<tr>" + "".join(f"<th>{c}</th>" for c in columns) + "</tr>"
        body = "".join(
            f"<tr><td>{escape(r.strategy)}</td><td>{r.status}</td><td>{r.client_ms:,.0f} ms</td>"
            f"<td>{yes(r.stored)}</td><td>{yes(r.delivered)}</td></tr>"
            for r in runs
        )
        display(HTML(f"<table>{head}{body}</table>"))


def compare_guess(
    guess: Any,
    measured: float | bool | AbstractSet[str],
    *,
    unit: str = "ms",
    what: str | None = None,
) -> str:
    """A kind sentence comparing a prediction with what was measured.

    The measured value gives the question's type: a time in ms (close enough counts; the
    client's wait unless `what` names another, such as "the gap between the attempts"), another
    number (`unit="emails lost"`, `unit="HTTP status"`: exact), a yes/no (a bool), or a set of
    strategies. A guess of another type is told what to write instead."""
    if isinstance(measured, bool):
        return _compare_yes_no(guess, measured)
    if isinstance(measured, AbstractSet):
        return _compare_strategies(guess, measured)
    return _compare_number(guess, measured, unit, what)


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _compare_yes_no(guess: Any, measured: bool) -> str:
    if guess is None:
        return f"It was: {_yes(measured)}. (Next time, put True or False in your guess first!)"
    if not isinstance(guess, bool):
        return f"A yes/no question: write True or False, not {guess!r}. It was: {_yes(measured)}."
    if guess == measured:
        return f"You guessed {_yes(guess)}; it was {_yes(measured)}. Well predicted!"
    return f"You guessed {_yes(guess)}; it was {_yes(measured)}. The cells below show why."


def _names(strategies: Iterable[str]) -> str:
    return "{" + ", ".join(sorted(strategies)) + "}"


def _compare_strategies(guess: Any, measured: AbstractSet[str]) -> str:
    example = '{"sequential", "queued"}'
    if guess is None:
        return f"It was {_names(measured)}. (Next time, put a set like {example} first!)"
    if isinstance(guess, str) or not isinstance(guess, Iterable):
        return f"Write a set of strategies, like {example}, not {guess!r}."
    named = {str(g) for g in guess}
    unknown = named - set(STRATEGIES)
    if unknown:
        return f"No strategy {_names(unknown)}: pick from {_names(STRATEGIES)}."
    said = f"You guessed {_names(named)}; it was {_names(measured)}."
    if named == measured:
        return f"{said} Well predicted!"
    missed, wrong = measured - named, named - measured
    parts = [f"also {_names(missed)}" if missed else "", f"not {_names(wrong)}" if wrong else ""]
    return f"{said} Not quite: {' and '.join(p for p in parts if p)}."


def _compare_number(guess: Any, measured: float, unit: str, what: str | None) -> str:
    shown = f"{measured:,.0f} ms" if unit == "ms" else f"{measured:,.0f} ({unit})"
    if guess is None:
        return f"Measured: {shown}. (Next time, put a number in your guess first!)"
    if isinstance(guess, bool) or not isinstance(guess, int | float):
        return f"Write a number, like 150, not {guess!r}. Measured: {shown}."
    if unit != "ms":  # a count or a status: exact, or not
        said = f"You guessed {guess:,.0f}; it was {measured:,.0f} ({unit})."
        return f"{said} {'Well predicted!' if guess == measured else 'The cells below show why.'}"
    off = measured - guess
    close = abs(off) <= max(50, 0.25 * measured)
    if what is not None:  # not the client's wait: the hints about awaits would mislead
        verdict = "Close enough!" if close else ("Longer" if off > 0 else "Shorter") + " than that."
        return f"You guessed {guess:,.0f} ms; {what} was {measured:,.0f} ms. {verdict}"
    if close:
        verdict = "Spot on, or close enough: your mental model of this ordering works."
    elif off > 0:
        verdict = "It took longer than you guessed: what else did the request await?"
    else:
        verdict = "Faster than you guessed: which work did the response not wait for?"
    return f"You guessed {guess:,.0f} ms; the client waited {measured:,.0f} ms. {verdict}"


def never_retrieved_demo(logs: LogBook) -> dict[str, list[LogLine]]:
    """asyncio's own report of a failed task nobody awaited, on a private event loop.

    The task is kept alive by a reference cycle, as our server's request scope keeps its tasks
    (task -> its context -> the scope's set -> task): asyncio reports "Task exception was never
    retrieved" only when the Task object is garbage-collected, whenever that is.
    """
    scope: contextvars.ContextVar[set[asyncio.Task[Any]]] = contextvars.ContextVar("scope")

    async def send_confirmation() -> None:
        await asyncio.sleep(0.01)
        raise RuntimeError("the email API answered 500")

    async def handler() -> None:
        scope.set(set())
        task = asyncio.create_task(send_confirmation())
        scope.get().add(task)
        await asyncio.sleep(0.05)  # "respond", the task fails meanwhile

    collecting = gc.isenabled()
    gc.disable()  # only our explicit collect() may collect, so the demo says the same each run
    try:
        # Garbage from before the demo first (a server's unowned tasks, in this process), so
        # the reports counted below are this demo's own.
        gc.collect()
        mark = logs.mark()
        # On a thread of its own: Jupyter's kernel already runs an event loop on this one.
        worker = threading.Thread(target=asyncio.run, args=(handler(),))
        worker.start()
        worker.join()
        before = logs.since(mark)
        mark = logs.mark()
        gc.collect()
        after = logs.since(mark)
    finally:
        if collecting:
            gc.enable()
    return {"before_collect": before, "after_collect": after}


_last: Lab | None = None


def start(url: str | None = None) -> Lab:
    """A lab on the server at `url` or `MARATHON_URL`, else a throwaway embedded stack."""
    global _last
    if _last is not None and _last.embedded:  # the first cell, run again: one stack is enough
        print("Stopping the stack this notebook started before...")
        _last.stop()
    url = url or os.environ.get("MARATHON_URL")
    t0 = time.perf_counter()
    lab = _last = Lab.remote(url) if url else Lab.embedded_stack()
    print(lab.describe() + f"\n  (ready in {time.perf_counter() - t0:.1f} s)")
    return lab


def strategies() -> Sequence[str]:
    return tuple(STRATEGIES)
