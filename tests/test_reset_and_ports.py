"""Errors a user can read (a busy port names the setting to change) and `marathon reset`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from marathon import registration
from marathon.cli import commands
from marathon.local import pg_holders, reset
from marathon.local.shutdown import PortBusy
from marathon.service import fake
from marathon.service.db import Database
from marathon.service.settings import Settings
from tests.conftest import run_python


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def test_a_busy_sandbox_port_says_which_variable_to_change(busy_port: int, pg_url: str) -> None:
    done = run_python(
        "-m",
        "marathon",
        "serve",
        "--port",
        "0",
        env={
            "DATABASE_URL": pg_url,
            "MARATHON_SANDBOX_PORT": str(busy_port),
            "MARATHON_EMAIL_SANDBOX": "1",
            "RESEND_API_URL": "",
        },
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "MARATHON_SANDBOX_PORT" in errors[0], done.stderr
    assert f"port {busy_port}" in errors[0]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["serve", "sandbox"])
def test_a_busy_port_says_which_flag_to_change(busy_port: int, command: str) -> None:
    """Before anything starts (cli.main turns PortBusy into one line and exit status 2)."""
    args = argparse.Namespace(host="127.0.0.1", port=busy_port, api_key=None)
    with pytest.raises(PortBusy, match=f"port {busy_port} .* with --port"):
        getattr(commands, command)(args)


@pytest.fixture
def own_database(pg_url: str) -> Iterator[str]:
    """A database of its own in the session's PostgreSQL: reset must not touch the others."""
    name = f"reset_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield pg_url.replace("/postgres?", f"/{name}?")
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


async def _store_one(url: str) -> registration.Runner:
    runner = registration.parse(fake.runner())
    assert isinstance(runner, registration.Runner)
    database = Database(url)
    await database.open()
    try:
        await database.insert_runner(runner)
    finally:
        await database.close()
    return runner


def test_reset_clears_the_registrations(own_database: str) -> None:
    assert "/postgres?" not in own_database
    runner = asyncio.run(_store_one(own_database))
    settings = Settings(database_url=own_database)
    assert reset.run(settings) == 2, "another database is cleared only with --yes"
    assert reset.run(settings, yes=True) == 0
    with psycopg.connect(own_database) as conn:
        assert conn.execute("SELECT count(*) FROM runners").fetchone() == (0,)
    again = asyncio.run(_store_one(own_database))  # the schema stays: registering works again
    assert again.id != runner.id


def test_reset_refuses_while_a_server_uses_the_embedded_database(tmp_path: Path) -> None:
    (tmp_path / "pgdata").mkdir()
    (tmp_path / "pgdata" / pg_holders.HANDLES).write_text(f"[{os.getpid()}]")  # alive: us
    assert reset.run(Settings(database_url=None, data_dir=tmp_path)) == 1


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", ""])
    proc.wait()  # reaped: not even a zombie
    return proc.pid


def test_the_holders_of_a_killed_process_are_forgotten(tmp_path: Path) -> None:
    """A PID left in the handle list by a process killed with kill -9 (the bug: every later
    process kept the server running for it), the live ones kept."""
    handles = tmp_path / pg_holders.HANDLES
    dead = _dead_pid()
    zombie = subprocess.Popen([sys.executable, "-c", ""])
    try:
        while pg_holders.running(zombie.pid):  # until it ends; not reaped: a zombie
            time.sleep(0.05)
        handles.write_text(json.dumps([dead, os.getpid(), zombie.pid]))
        assert pg_holders.sweep(tmp_path) == ([os.getpid()], [dead, zombie.pid])
    finally:
        zombie.wait()
    assert json.loads(handles.read_text()) == [os.getpid()]
    assert pg_holders.sweep(tmp_path) == ([os.getpid()], [])


def test_a_pid_reused_since_the_list_was_written_holds_nothing(tmp_path: Path) -> None:
    """Our PID, in a list written an hour before we started: a dead holder's PID, reused."""
    handles = tmp_path / pg_holders.HANDLES
    handles.write_text(json.dumps([os.getpid()]))
    an_hour_ago = time.time() - 3600
    os.utime(handles, (an_hour_ago, an_hour_ago))
    assert pg_holders.sweep(tmp_path) == ([], [os.getpid()])


def test_every_busy_port_is_named_at_once_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as api, socket.socket() as sandbox:
        for s in (api, sandbox):
            s.bind(("127.0.0.1", 0))
            s.listen()
        ports = [s.getsockname()[1] for s in (api, sandbox)]
        env = {
            "MARATHON_DATA_DIR": str(tmp_path),
            "MARATHON_SANDBOX_PORT": str(ports[1]),
            "MARATHON_EMAIL_SANDBOX": "1",
            "DATABASE_URL": "",
            "RESEND_API_URL": "",
        }
        done = run_python("-m", "marathon", "demo", "--once", "--port", str(ports[0]), env=env)
    assert done.returncode == 2, done.stderr
    [error] = [line for line in done.stderr.splitlines() if "ERROR" in line]
    assert f"port {ports[0]} " in error and "--port" in error, error
    assert f"port {ports[1]} " in error and "MARATHON_SANDBOX_PORT" in error, error
    assert not (tmp_path / "pgdata").exists(), "PostgreSQL started before the ports were checked"


@pytest.mark.parametrize(
    ("configured", "api_port", "expected"),
    [(None, 8000, 8025), (None, 8300, 8325), (None, 0, 0), (9000, 8300, 9000), (0, 8300, 0)],
)
def test_the_sandbox_listens_beside_the_api(
    configured: int | None, api_port: int, expected: int
) -> None:
    settings = Settings(sandbox_port=configured)
    assert settings.sandbox_port_for(api_port) == expected


def test_make_demo_takes_a_port() -> None:
    root = Path(__file__).resolve().parents[1]
    dry = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", "demo", "PORT=8300"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "marathon demo --port 8300" in dry.stdout, dry.stdout


def test_a_demo_that_exits_says_where_to_serve_it_again() -> None:
    from marathon.lab import demo_ending

    text = demo_ending.next_steps(
        "http://127.0.0.1:8300", serving=False, port=8300, page="/data/compare.html"
    )
    assert re.search(r"make demo PORT=8300\s+then http://127.0.0.1:8300/lesson/1", text), text
    assert ":8000" not in text
    assert "drawn in /data/compare.html" in text
    shared = demo_ending.next_steps("http://0.0.0.0:8000", serving=False, host="0.0.0.0")
    assert re.search(r"demo --host 0.0.0.0 --port 8000\s+then http://127.0.0.1:8000/", shared)
    assert max(len(line) for line in (text + shared).splitlines()) <= 80
    assert "http://127.0.0.1:8300/lesson/1" in demo_ending.next_steps(
        "http://127.0.0.1:8300", serving=True, port=8300
    )
