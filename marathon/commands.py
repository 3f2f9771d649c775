"""What each `marathon` command does (argument parsing lives in `cli`)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from types import FrameType

import uvicorn

from marathon import stack
from marathon.settings import Settings

__all__ = ["demo", "sandbox", "serve"]

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


def sandbox(args: argparse.Namespace) -> int:
    from marathon import tracing
    from marathon.sandbox import SERVICE_NAME, create_sandbox

    tracing.setup(SERVICE_NAME)
    log.info("Resend sandbox on http://%s:%d (outbox: /)", args.host, args.port)
    uvicorn.run(create_sandbox(api_key=args.api_key), host=args.host, port=args.port)
    return 0


def demo(args: argparse.Namespace) -> int:
    from marathon import compare

    _stop_on_sigterm()
    with (
        stack.running(Settings.from_env()) as s,
        compare.api_server(s.settings, args.host, args.port) as api,
    ):
        compare.run_and_print(api.url, s.settings)
        if args.once:
            return 0
        print(f"\nServing the API on {api.url}  (Ctrl-C to stop)")
        if s.sandbox:
            print(f"Sandbox outbox:   {s.sandbox.url}/")
        print(f"Recent traces:    {api.url}/api/traces")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("\nstopping: draining background work...")
    return 0
