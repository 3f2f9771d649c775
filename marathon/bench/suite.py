"""`marathon bench [NAME ...]`: the chosen benchmarks on one harness, as one JSON document.

Imports every module that registers benchmarks, so `BENCHMARKS` is complete here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from typing import Any

# Beyond the harness's own benchmarks, the modules imported for their `@register`.
from marathon.bench import arguments, outage, shutdown  # noqa: F401
from marathon.bench.harness import BENCHMARKS, Options, harness, machine

__all__ = ["options", "run"]


def options(args: argparse.Namespace) -> Options:
    """The full run's figures (or --quick's), with what the flags set instead."""
    o = Options.quick_variant() if args.quick else Options()
    flags = {
        "repeat": max(1, args.repeat) if args.repeat else None,
        "prefer_wrk": False if args.no_wrk else None,
        "outage_s": args.outage_s,
        "registrations": args.registrations,
        "shutdown_burst": args.burst,
        "shutdown_concurrency": args.concurrency,
        "shutdown_knobs": args.knobs,
        "shutdown_together": args.together,
    }
    return replace(o, **{k: v for k, v in flags.items() if v is not None})


def run(args: argparse.Namespace) -> int:
    """1 if a benchmark's result says it was not `as_expected`, else 0."""
    o = options(args)
    names = arguments.chosen(args)
    result: dict[str, Any] = {"machine": machine(), "quick": o.quick}
    with harness(o.prefer_wrk) as h:
        for name in names:
            started = time.monotonic()
            print(f"bench: {name}...", file=sys.stderr, flush=True)
            result[name] = BENCHMARKS[name](h, o)
            print(json.dumps(result[name], default=str), file=sys.stderr, flush=True)
            print(f"bench: {name}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    print(json.dumps(result, indent=2, default=str))
    return 1 if any(result[name].get("as_expected") is False for name in names) else 0
