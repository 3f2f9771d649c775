"""Run every strategy once against one server and put the results side by side."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from rich.console import Console
from rich.table import Table

from marathon.app import create_app
from marathon.measure import Measurement, register
from marathon.settings import Settings
from marathon.stack import ThreadedServer
from marathon.strategies import STRATEGIES

__all__ = ["api_server", "outcome_table", "run", "run_and_print"]


def api_server(settings: Settings, host: str = "127.0.0.1", port: int = 0) -> ThreadedServer:
    return ThreadedServer(create_app(settings), host=host, port=port)


def client_for(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=60)


def run(base_url: str, strategies: Sequence[str] = tuple(STRATEGIES)) -> list[Measurement]:
    with client_for(base_url) as client:
        client.get("/api/health").raise_for_status()  # connect first: time only the request
        return [register(client, name) for name in strategies]


def _ms(value: float | None, missing: str = "-") -> str:
    return missing if value is None else f"{value:,.0f} ms"


def _yes(value: bool | None) -> str:
    return {True: "yes", False: "NO", None: "?"}[value]


def outcome_table(results: Sequence[Measurement], settings: Settings | None = None) -> Table:
    table = Table(title="What the user waited for, and what happened to the work")
    for column in (
        "strategy",
        "HTTP",
        "client waited",
        "server span",
        "all work done",
        "row stored",
        "email sent",
        "error",
    ):
        table.add_column(column, no_wrap=column == "strategy")
    for m in results:
        table.add_row(
            m.strategy,
            str(m.status),
            _ms(m.client_ms),
            _ms(m.server_ms),
            _ms(m.settled_ms, "never"),
            _yes(m.stored),
            _yes(m.delivered),
            m.error or m.detail or "",
        )
    return table


def run_and_print(base_url: str, settings: Settings | None = None) -> list[Measurement]:
    results = run(base_url)
    Console().print(outcome_table(results, settings))
    return results
