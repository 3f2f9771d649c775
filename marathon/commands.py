"""What each `marathon` command does (argument parsing lives in `cli`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import threading
from dataclasses import replace
from pathlib import Path
from types import FrameType

import httpx
import uvicorn
from rich.console import Console

from marathon import compare, jaeger, knobs, scenarios, stack, waterfall
from marathon.settings import Settings
from marathon.strategies import STRATEGIES
from marathon.views import svg as svg_view
from marathon.views import terminal

__all__ = ["bench", "compare_", "demo", "sandbox", "scenarios_", "serve", "trace", "worker"]

log = logging.getLogger("marathon")


def _stop_on_sigterm() -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def serve(args: argparse.Namespace) -> int:
    from marathon.app import create_app

    with stack.running(Settings.from_env()) as s:
        app = create_app(s.settings)
        log.info("API on http://%s:%d (traces: /api/traces)", args.host, args.port)
        # uvicorn in the main thread: SIGTERM and Ctrl-C shut down gracefully (drain included).
        uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


def worker(args: argparse.Namespace) -> int:
    from marathon import email, queue, tracing

    async def work(url: str, settings: Settings) -> None:
        email.configure(settings)
        concurrency = args.concurrency or settings.worker_concurrency
        async with email.connections(), queue.connected(url) as (db, jobs):
            log.info("worker: delivering confirmations (concurrency %d)", concurrency)
            await queue.run_worker(
                jobs,
                db,
                concurrency=concurrency,
                install_signal_handlers=True,
                name=f"worker-{os.getpid()}",
            )

    with stack.running(Settings.from_env()) as s:
        tracing.setup(s.settings.service_name.replace("-api", "-worker"), s.settings.trace_limit)
        assert s.settings.database_url
        asyncio.run(work(s.settings.database_url, s.settings))
    return 0


def sandbox(args: argparse.Namespace) -> int:
    from marathon import tracing
    from marathon.sandbox import SERVICE_NAME, create_sandbox

    tracing.setup(SERVICE_NAME)
    log.info("Resend sandbox on http://%s:%d (outbox: /)", args.host, args.port)
    uvicorn.run(create_sandbox(api_key=args.api_key), host=args.host, port=args.port)
    return 0


def _console() -> Console:
    # Not a terminal (CI, a pipe): still wide enough for the waterfall and the table.
    console = Console()
    return console if console.is_terminal else Console(width=max(console.width, 120))


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


def demo(args: argparse.Namespace) -> int:
    _stop_on_sigterm()
    with (
        stack.running(Settings.from_env()) as s,
        compare.api_server(s.settings, args.host, args.port) as api,
    ):
        comparison = compare.run(api.url)
        _show(comparison, args)
        page = s.settings.data_dir / "compare.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(compare.html(comparison))
        print(f"\nThe same comparison as a page: {page}")
        if args.once:
            return 0
        print(f"\nThe workshop page: {api.url}/  (Ctrl-C to stop)")
        if s.sandbox:
            print(f"Sandbox outbox:   {s.sandbox.url}/")
        print(f"Recent traces:    {api.url}/api/traces  (one as a page: {api.url}/traces/<id>)")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("\nstopping: draining background work...")
    return 0


def knobs_header(args: argparse.Namespace) -> str | None:
    """The `Marathon-Knobs` header from the knob flags; bad values stop here, with the reason."""
    pairs = list(args.knob or [])
    for name in ("db_latency_ms", "email_latency_ms", "email_failure_rate"):
        if getattr(args, name) is not None:
            pairs.append(f"{name}={getattr(args, name)}")
    header = ", ".join(pairs)
    knobs.parse_overrides(header)
    return header or None


def compare_(args: argparse.Namespace) -> int:
    header = knobs_header(args)
    strategies = args.strategy or list(STRATEGIES)
    if args.scenario:
        comparison = _scenario(args, header, strategies)
    elif args.url:
        comparison = compare.run(
            args.url.rstrip("/"), strategies, knobs_header=header, repeat=args.repeat
        )
    else:
        with compare.fresh_stack() as (url, _):
            comparison = compare.run(url, strategies, knobs_header=header, repeat=args.repeat)
    comparison.live = bool(args.url)
    _show(comparison, args)
    return 0


def _scenario(
    args: argparse.Namespace, header: str | None, strategies: list[str]
) -> compare.Comparison:
    scenario = scenarios.SCENARIOS[args.scenario]
    if header:  # flags add to the scenario's own knobs
        scenario = replace(scenario, knobs=", ".join(filter(None, [scenario.knobs, header])))
    log.info("scenario %s: %s", scenario.name, scenario.lesson)
    if args.url:
        if header or args.strategy:
            log.warning("on a running server the scenario runs as defined: flags ignored")
        r = httpx.post(f"{args.url.rstrip('/')}/api/scenarios/{scenario.name}", timeout=600)
        r.raise_for_status()
        return compare.Comparison.from_json(r.json())
    with compare.fresh_stack() as (url, settings):
        return scenarios.run(
            scenario,
            url,
            strategies,
            # a server it may stop, without a queue worker of its own: the stack's keeps going
            instance=lambda: compare.api_server(settings.with_(worker_in_process=False)),
        )


def scenarios_(args: argparse.Namespace) -> int:
    for s in scenarios.SCENARIOS.values():
        print(f"{s.name:<20} {s.lesson}")
    print("\nrun one: marathon compare --scenario NAME  (or POST /api/scenarios/NAME)")
    return 0


def trace(args: argparse.Namespace) -> int:
    if args.file:
        waterfalls = waterfall.load(args.file)
    else:
        source = args.jaeger or args.url
        waterfalls = [waterfall.from_jaeger(jaeger.fetch(source, args.trace_id))]
    if args.html:
        body = svg_view.svg(waterfalls)
        Path(args.html).write_text(svg_view.html_page(waterfalls[0].title, body))
    if args.svg:
        Path(args.svg).write_text(svg_view.svg(waterfalls))
    console = _console()
    console.print(terminal.render(waterfalls, width=console.width))
    return 0


def bench(args: argparse.Namespace) -> int:
    from marathon import bench as benchmarks

    return benchmarks.run(args)
