"""Stopping without losing a span: how every long-running command listens and shuts down.

uvicorn catches SIGINT/SIGTERM, shuts down gracefully (the app's lifespan drains its background
work), then *re-raises* the signal, so the process dies by it: nothing after `server.run()`
(the tracer providers' final flush, the embedded PostgreSQL's stop, `finally` blocks, atexit)
would run. `Server` keeps the graceful part and returns instead; the command then flushes
the traces (`finish`) and leaves its `with` blocks, which stop the embedded servers.

Usage::

    sock = listen(host, port, setting="--port")
    with stack.running(settings):
        Server(uvicorn.Config(app)).run(sockets=[sock])
    finish()
"""

from __future__ import annotations

import errno
import logging
import signal
import socket
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from types import FrameType

import uvicorn

from marathon import tracing

__all__ = ["PortBusy", "Server", "check_free", "finish", "listen", "stop_signals"]

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class PortBusy(Exception):
    """The port is taken; the message says which setting picks another."""


def _busy(host: str, port: int, setting: str, e: OSError) -> str:
    if e.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is already in use: choose another with {setting}"
    return f"cannot listen on {host}:{port} ({e.strerror}): see {setting}"


def _bind(host: str, port: int) -> socket.socket:
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say TCP, and
    # without it Nagle's algorithm adds ~40 ms (a delayed ACK) to every response.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _port_busy(problems: list[str]) -> PortBusy:
    hint = "another marathon, Mailpit, MailHog? 0 picks a free port"
    if len(problems) == 1:
        return PortBusy(f"{problems[0]} ({hint})")
    return PortBusy(f"{len(problems)} ports are taken ({hint}): " + "; ".join(problems))


def listen(host: str, port: int, *, setting: str) -> socket.socket:
    """A bound TCP socket; port 0 picks a free one. A busy port raises `PortBusy`."""
    try:
        return _bind(host, port)
    except OSError as e:
        raise _port_busy([_busy(host, port, setting, e)]) from None


def check_free(addresses: list[tuple[str, int, str]]) -> None:
    """Before anything starts: every (host, port, setting) can be listened on, or one
    `PortBusy` names each busy port and the setting that moves it."""
    problems = []
    for host, port, setting in addresses:
        if port == 0:
            continue
        try:
            _bind(host, port).close()  # bound, never listening: the port is free again at once
        except OSError as e:
            problems.append(_busy(host, port, setting, e))
    if problems:
        raise _port_busy(problems)


class Server(uvicorn.Server):
    """uvicorn's graceful shutdown on SIGINT/SIGTERM, then `run()` returns: no re-raise.

    `stopped_by` is the signal that stopped it (None if something else did). A second SIGINT
    still forces the exit of open connections (uvicorn's own `handle_exit`); the lifespan's
    drain runs either way.
    """

    stopped_by: int | None = None

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach only the main thread; whoever runs this thread stops it
            return
        with stop_signals(self._signal):
            yield

    def _signal(self, sig: int) -> None:
        self.stopped_by = self.stopped_by or sig
        self.handle_exit(sig, None)


@contextmanager
def stop_signals(on_signal: Callable[[int], None]) -> Iterator[None]:
    """Call `on_signal(signum)` for SIGINT and SIGTERM inside the block (restored after)."""

    def handler(sig: int, frame: FrameType | None) -> None:
        on_signal(sig)

    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def finish() -> None:
    """The final flush: every span ended so far (drained or cancelled work included) is
    exported, then the tracer providers shut down."""
    tracing.shutdown()
