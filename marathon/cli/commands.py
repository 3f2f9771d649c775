"""What each `marathon` command does (argument parsing lives in `cli`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import signal
import sys
import textwrap
import threading
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import uvicorn
from rich.console import Console

from marathon import knobs
from marathon.lab import compare, demo_ending, scenario_runner, stacks
from marathon.local import event_loop, postgres, shutdown, stack
from marathon.service import limits
from marathon.service.settings import Settings
from marathon.service.settings import read as read_setting
from marathon.strategies import STRATEGIES
from marathon.tracing import jaeger_json, jaeger_query
from marathon.views import svg as svg_view
from marathon.views import terminal, waterfall

__all__ = [
    "bench",
    "compare_orderings",
    "demo",
    "list_scenarios",
    "queue",
    "reset",
    "sandbox",
    "serve",
    "trace",
    "worker",
]

log = logging.getLogger("marathon")


def _stop_on_sigterm() -> None:
    """SIGTERM stops like Ctrl-C; a second signal while stopping is only reported: the drain,
    the final flush and the embedded PostgreSQL's stop must run to the end."""
    stopping = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            log.warning("already stopping: draining background work, then exiting")
            return
        stopping = True
        raise KeyboardInterrupt

    for sig in shutdown.SIGNALS:
        signal.signal(sig, handler)


def serve(args: argparse.Namespace) -> int:
    from marathon.app import create_app

    settings = Settings.from_env()
    stack.check_ports(settings, args.host, args.port)  # every busy port named at once
    sock = shutdown.listen(args.host, args.port, setting="--port")
    host, port = sock.getsockname()[:2]
    _stop_on_sigterm()  # a signal while PostgreSQL starts still unwinds (and stops it)
    try:
        with (
            contextlib.suppress(KeyboardInterrupt),
            stack.running(settings, api_port=args.port) as s,
        ):
            # Beyond loopback, shared changes need the admin token (`bind_host`).
            settings = s.settings.with_(bind_host=args.host)
            app = create_app(settings, run_scenario=scenario_runner.for_server)
            log.info("API on http://%s:%d/ (traces: /traces/<id>, /api/services)", host, port)
            # In the main thread: SIGTERM and Ctrl-C shut down gracefully (drain included), and
            # run() returns instead of re-raising the signal (see marathon.local.shutdown).
            # uvicorn logs through cli.setup_logging's handler: its access log (a line per
            # page poll) and start-up lines only with -v.
            config = uvicorn.Config(
                app, log_config=None, log_level=None, loop=event_loop.choice(), **limits.UVICORN
            )
            server = shutdown.Server(config)
            server.run(sockets=[sock])
            shutdown.finish()  # before PostgreSQL stops: nothing left to trace after this
    finally:
        sock.close()
    return 0


def worker(args: argparse.Namespace) -> int:
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    from marathon import tracing
    from marathon.service import email, queue

    async def work(url: str, settings: Settings) -> None:
        email.configure(settings)
        concurrency = args.concurrency or settings.worker_concurrency
        # Its plumbing (pool, migrations, polling) makes no trace; each job turns
        # instrumentation back on for its attempt (queue.send_confirmation_job).
        with suppress_instrumentation():
            async with email.connections(), queue.connected(url) as (db, jobs):
                log.info("worker: delivering confirmations (concurrency %d)", concurrency)
                await queue.run_worker(
                    jobs,
                    db,
                    concurrency=concurrency,
                    install_signal_handlers=True,
                    name=f"worker-{os.getpid()}",
                )

    _stop_on_sigterm()  # until procrastinate's own handlers are in place, and after them
    try:
        with stack.running(Settings.from_env()) as s:
            tracing.setup(
                s.settings.service_name.replace("-api", "-worker"), s.settings.trace_limit
            )
            assert s.settings.database_url
            # The ~100,000 objects of start-up (imports, instrumentation) live as long as the
            # process: out of the collector's way, so its passes over the older generations
            # visit only what the jobs made (measured: a third less time in gc per email).
            gc.collect()
            gc.freeze()
            event_loop.run(work(s.settings.database_url, s.settings))
            shutdown.finish()
    except KeyboardInterrupt:
        shutdown.finish()
    return 0


def sandbox(args: argparse.Namespace) -> int:
    from marathon import tracing
    from marathon.local.sandbox import SERVICE_NAME, create_sandbox

    sock = shutdown.listen(args.host, args.port, setting="--port")
    host, port = sock.getsockname()[:2]
    tracing.setup(SERVICE_NAME)
    log.info("Resend sandbox on http://%s:%d/ (outbox: /)", host, port)
    try:
        config = uvicorn.Config(
            create_sandbox(api_key=args.api_key, bind_host=args.host),
            log_config=None,  # through cli.setup_logging's handler, like `serve`
            log_level=None,
            loop=event_loop.choice(),
        )
        shutdown.Server(config).run(sockets=[sock])
    finally:
        sock.close()
    shutdown.finish()
    return 0


def _console() -> Console:
    return Console(width=terminal.columns())  # COLUMNS, the terminal's, or a pipe's 120


def _show(comparison: compare.Comparison, args: argparse.Namespace) -> None:
    if getattr(args, "json", False):
        print(json.dumps(comparison.as_json(), indent=2))
    else:
        console = _console()
        console.print(compare.render(comparison, width=console.width))
    if getattr(args, "html", None):
        Path(args.html).write_text(compare.html(comparison))
        log.info("wrote %s", args.html)
    if getattr(args, "svg", None):
        Path(args.svg).write_text(svg_view.svg(comparison.waterfalls()))
        log.info("wrote %s", args.svg)
    if getattr(args, "jaeger_json", None):
        doc = jaeger_json.upload_file(comparison.traces())
        Path(args.jaeger_json).write_text(json.dumps(doc, indent=1))
        log.info(
            "wrote %s (%d traces, for Jaeger UI's JSON File upload)",
            args.jaeger_json,
            len(doc["data"]),
        )


def demo(args: argparse.Namespace) -> int:
    _stop_on_sigterm()
    with contextlib.suppress(KeyboardInterrupt):  # `with` blocks drain and stop the servers
        _demo(args)
    shutdown.finish()
    return 0


def _demo(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    stack.check_ports(settings, args.host, args.port)  # every busy port named at once
    with (
        stack.running(settings, api_port=args.port) as s,
        stacks.api_server(s.settings, args.host, args.port) as api,
    ):
        comparison = compare.run(api.url)
        comparison.live = not args.once  # links to a server that is about to exit lead nowhere
        _show(comparison, args)
        page = s.settings.data_dir / "compare.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(compare.html(comparison))
        print(f"\nThe same comparison as a page: {page}")
        console = _console()
        console.print(demo_ending.render(demo_ending.run(api.url, s.settings), width=console.width))
        where = {"host": args.host, "port": args.port, "page": str(page)}
        print(demo_ending.next_steps(api.url, serving=not args.once, **where))
        if args.once:
            return
        print(f"\nThe workshop page: {api.url}/  (Ctrl-C to stop)")
        if s.sandbox:
            print(f"Sandbox outbox:   {s.sandbox.url}/")
        recent = f"{api.url}/api/traces?service={s.settings.service_name}"
        print(f"Recent traces:    {recent}  (one as a page: {api.url}/traces/<id>)")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("\nstopping: draining background work...")


def knobs_header(args: argparse.Namespace) -> str | None:
    """The `Marathon-Knobs` header from the knob flags; bad values stop here, with the reason."""
    pairs = list(args.knob or [])
    for name in ("db_latency_ms", "email_latency_ms", "email_failure_rate"):
        if getattr(args, name) is not None:
            pairs.append(f"{name}={getattr(args, name)}")
    header = ", ".join(pairs)
    knobs.parse_overrides(header, per_request=True)
    return header or None


def compare_orderings(args: argparse.Namespace) -> int:
    header = knobs_header(args)
    strategies = args.strategy or list(STRATEGIES)
    if args.scenario:
        comparison = _scenario(args, header, strategies)
    elif args.url:
        comparison = compare.run(
            args.url.rstrip("/"), strategies, knobs_header=header, repeat=args.repeat
        )
    else:
        with stacks.fresh_stack() as (url, _):
            comparison = compare.run(url, strategies, knobs_header=header, repeat=args.repeat)
    comparison.live = bool(args.url)
    _show(comparison, args)
    return 0


def _scenario(
    args: argparse.Namespace, header: str | None, strategies: list[str]
) -> compare.Comparison:
    scenario = scenario_runner.SCENARIOS[args.scenario]
    if header:  # flags add to the scenario's own knobs
        scenario = replace(scenario, knobs=", ".join(filter(None, [scenario.knobs, header])))
    if not args.json:  # the lesson's title (stdout stays one JSON document with --json)
        title = f"scenario {scenario.name}: {scenario.teaches}"
        print(textwrap.fill(title, terminal.columns() - 1, subsequent_indent="  ") + "\n")
    if args.url:
        if header or args.strategy:
            log.warning("on a running server the scenario runs as defined: flags ignored")
        r = httpx.post(f"{args.url.rstrip('/')}/api/scenarios/{scenario.name}", timeout=600)
        r.raise_for_status()
        return compare.Comparison.from_json(r.json())
    with stacks.fresh_stack() as (url, settings):
        return scenario_runner.run(
            scenario,
            url,
            strategies,
            # a server it may stop, without a queue worker of its own: the stack's keeps going
            instance=lambda: stacks.api_server(settings.with_(worker_in_process=False)),
        )


def list_scenarios(args: argparse.Namespace) -> int:
    for s in scenario_runner.SCENARIOS.values():
        print(f"{s.name:<20} {s.teaches}")
    print("\nrun one: marathon compare --scenario NAME  (or POST /api/scenarios/NAME)")
    return 0


def _traces(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[waterfall.Waterfall]]:
    """The traces to show (a queued registration's attempts included) and their waterfalls."""
    if args.file:
        doc = json.loads(Path(args.file).read_text())
        traces = doc["data"] if isinstance(doc, dict) and "data" in doc else doc
        traces = traces if isinstance(traces, list) else [traces]
        return traces, waterfall.parse(traces)
    source = args.jaeger or read_setting("JAEGER_QUERY_URL") or args.url
    trace_id = f"{jaeger_query.parse_trace_id(args.trace_id):032x}"
    request = jaeger_json.fetch(source, trace_id)
    try:  # attempts are found through their links to the request, as in Jaeger UI
        attempts = jaeger_json.attempts(source, request)
    except jaeger_json.Unavailable as e:
        log.warning("could not look for linked attempts: %s", e)
        attempts = []
    return [request, *attempts], [waterfall.from_jaeger(request, attempts)]


def trace(args: argparse.Namespace) -> int:
    """One trace's waterfall; a missing trace or a missing server is one line, exit 1."""
    where = args.file or args.jaeger or args.url
    try:
        traces, waterfalls = _traces(args)
    except jaeger_query.QueryError as e:
        print(f"marathon trace: {args.trace_id!r} is not a trace id: {e}", file=sys.stderr)
        return 2
    except jaeger_json.Unavailable as e:
        if e.unreachable:
            hint = "start one with `marathon serve`, or pass --url, --jaeger or --file"
            print(f"marathon trace: no server answers at {where} ({hint})", file=sys.stderr)
        elif e.status == 404:
            print(
                f"marathon trace: trace {args.trace_id} not found at {where} (evicted from "
                "the store, recorded by another server, or still running)",
                file=sys.stderr,
            )
        else:
            print(f"marathon trace: {where} answered: {e}", file=sys.stderr)
        return 1
    except (OSError, ValueError, KeyError, TypeError) as e:  # a file that is not Jaeger's JSON
        print(f"marathon trace: cannot read {where}: {e}", file=sys.stderr)
        return 1
    if args.json:
        Path(args.json).write_text(json.dumps(jaeger_json.upload_file(traces), indent=1))
        log.info("wrote %s (%d trace(s), for Jaeger UI's JSON File upload)", args.json, len(traces))
    if args.html:
        body = svg_view.svg(waterfalls)
        Path(args.html).write_text(svg_view.html_page(waterfalls[0].title, body))
    if args.svg:
        Path(args.svg).write_text(svg_view.svg(waterfalls))
    console = _console()
    console.print(terminal.render(waterfalls, width=console.width))
    return 0


def reset(args: argparse.Namespace) -> int:
    """Clear the registrations, confirmations and queued jobs (see marathon.local.reset)."""
    from marathon.local import reset as reset_

    return reset_.run(Settings.from_env(), yes=args.yes)


def queue(args: argparse.Namespace) -> int:
    """`marathon queue retry-dead`: every dead letter back in the queue (the database is
    shared: any running worker picks them up)."""
    from marathon.service import queue as confirmations_queue

    async def retry(url: str) -> int:
        async with confirmations_queue.connected(url) as (database, jobs):
            return await confirmations_queue.retry_dead(jobs, database)

    settings = Settings.from_env()
    with contextlib.ExitStack() as running:
        url = settings.database_url or running.enter_context(
            postgres.embedded_server(settings.data_dir / "pgdata")  # shared with a running server
        )
        retried = asyncio.run(retry(url))
    print(f"{retried} dead letter(s) back in the queue")
    return 0


def bench(args: argparse.Namespace) -> int:
    from marathon.bench import suite

    return suite.run(args)
