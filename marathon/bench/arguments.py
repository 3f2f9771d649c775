"""`marathon bench`'s command line: the benchmarks there are, and their flags.

Light on purpose: `marathon.cli` builds its parser from this module, and parsing (`--help`
included) must not import what the benchmarks need (psycopg, psutil, the servers). Each name
here is registered by one `@marathon.bench.harness.register(NAME)`; `register` refuses a name
missing here, and `tests/test_bench_cli.py` fails if one here is not registered.
"""

from __future__ import annotations

import argparse

__all__ = ["BENCHMARKS", "EPILOG", "add_arguments", "chosen"]

# name -> what it measures (one line of `marathon bench --help`), in the order they run.
BENCHMARKS: dict[str, str] = {
    "throughput": "server CPU ms per request and req/s: tracing on, store only, off, sampled",
    "memory": "RSS per piece of pending background work, in a burst of slow emails",
    "sustained": "concurrent and wait-until under sustained load: stored, sent, pending",
    "queue": "emails/s delivered by 1, 2 and 4 `marathon worker` processes, CPU per email",
    "fidelity": "each strategy's median client wait against its designed wait",
    "cold_start": "`marathon demo --once` in an empty data folder: seconds to its comparison",
    "outage": "the durable queue across an email outage: each confirmation exactly once?",
    "shutdown": "SIGTERM mid-burst, per strategy: emails lost or sent twice",
}

EPILOG = (
    "benchmarks (NAME; without one, all of them, in this order):\n"
    + "".join(f"  {name:<12} {what}\n" for name, what in BENCHMARKS.items())
    + "\nThe exit status is 1 if a benchmark's result says `as_expected: false` (outage: an "
    "email\nnot delivered exactly once; shutdown: one lost by a strategy that should keep it, "
    "or one\nsent twice). docs/benchmarks.md has what each measures, and the figures."
)


def _name(value: str) -> str:
    if value not in BENCHMARKS:
        raise argparse.ArgumentTypeError(
            f"no benchmark {value!r} (choose from {', '.join(BENCHMARKS)})"
        )
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `marathon bench`; defaults of None mean "the full run's, or --quick's"."""
    parser.add_argument(
        "names",
        nargs="*",
        type=_name,
        metavar="NAME",
        help="the benchmarks to run (repeatable; default: all, listed below)",
    )
    parser.add_argument(
        "--only", action="append", type=_name, default=[], metavar="NAME", help="same as NAME"
    )
    parser.add_argument("--quick", action="store_true", help="the small correctness variant")
    parser.add_argument("--repeat", type=int, help="samples per figure (default 3; --quick 1)")
    parser.add_argument("--no-wrk", action="store_true", help="load from httpx even with wrk")
    parser.add_argument("--json", action="store_true", help="JSON on stdout (always)")
    outage = parser.add_argument_group("outage")
    outage.add_argument(
        "--outage-s", type=float, metavar="S", help="outage length (default 60; --quick 3)"
    )
    outage.add_argument(
        "--registrations",
        type=int,
        metavar="N",
        help="queued registrations during the outage (default 100, at most 1000; --quick 5)",
    )
    shutdown = parser.add_argument_group("shutdown")
    shutdown.add_argument(
        "--burst",
        type=int,
        metavar="N",
        help="registrations per strategy (default 200, 2 to 2000; --quick 20)",
    )
    shutdown.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        help="in flight per strategy (default 20; --quick 5)",
    )
    shutdown.add_argument(
        "--knobs",
        metavar="HEADER",
        help="a Marathon-Knobs header for every registration (default: the server's knobs)",
    )
    shutdown.add_argument(
        "--together",
        action="store_true",
        default=None,
        help="all strategies' servers and bursts at once (faster; what --quick does)",
    )


def chosen(args: argparse.Namespace) -> list[str]:
    """The benchmarks to run, each once, in the order asked (NAMEs, then --only), else all."""
    return list(dict.fromkeys([*args.names, *args.only])) or list(BENCHMARKS)
