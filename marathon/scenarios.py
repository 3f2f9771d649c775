"""The failure lessons on demand, declared: each names the knobs it sets (and sometimes a fault),
and the one line it teaches. `marathon.lab.scenario_runner` plays them and judges each strategy
from what really happened; the server offers them (`GET /api/scenarios`) and runs them
(`POST /api/scenarios/{name}`) with the runner it was handed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from marathon.service.settings import Settings

__all__ = ["SCENARIOS", "Scenario", "ScenarioRunner"]


@dataclass(frozen=True)
class Scenario:
    name: str
    teaches: str  # the one line it teaches (GET /api/scenarios: "lesson")
    knobs: str  # the Marathon-Knobs header of every request
    duplicate: bool = False  # every registration reuses an email that is already registered
    shutdown: bool = False  # each strategy on its own server, stopped right after the response
    # A fault set at run time (PUT /api/knobs) for the runs, then cleared: what was queued
    # can still be delivered once it clears.
    fault: tuple[tuple[str, str], ...] = ()


SCENARIOS = {
    s.name: s
    for s in [
        Scenario("happy", "everything works: who waits for what", ""),
        Scenario(
            "slow-email",
            "a 3 s email API: sequential makes the user wait, the others answer at once",
            "email_latency_ms=3000",
        ),
        Scenario(
            "email-outage",
            "the email API is down, then back: who tells the user, who logs it, who loses it "
            "silently, and who delivers once it clears",
            "email_latency_ms=100",
            fault=(("email_outage", "on"),),
        ),
        Scenario(
            "duplicate-runner",
            "an email registers twice: 409 for those who await the insert; concurrent has "
            "said 202 and confirms a registration that was never stored",
            "",
            duplicate=True,
        ),
        Scenario(
            "db-outage",
            "the insert fails: what each tells the user, and whether an email still goes out",
            "db_failure_rate=1",
        ),
        Scenario(
            "serverless-teardown",
            "an ephemeral instance: work outside wait_until is cut off after the response",
            "lifecycle=serverless, email_latency_ms=800",
        ),
        Scenario(
            "shutdown-mid-flight",
            "SIGTERM right after the response: wait_until work is drained, a bare task is lost, "
            "the queue does not care",
            "email_latency_ms=800",
            shutdown=True,
        ),
    ]
}


# Plays a scenario against the server at `base_url` (blocking: the server calls it on a worker
# thread) and returns the result as JSON. The lab provides it
# (`marathon.lab.scenario_runner.for_server`) and the app is handed it, so the server never
# imports the harness that drives it.
ScenarioRunner = Callable[["Scenario", str, "Settings"], dict[str, Any]]
