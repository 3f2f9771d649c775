"""Running a failure lesson (`marathon.scenarios`): set its knobs (and sometimes a fault), run
every strategy, and judge each from what really happened: the HTTP status, the row, the outbox,
the trace, the log. The verdicts are computed from those outcomes, never written in advance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import httpx

from marathon.lab.compare import Comparison
from marathon.lab.compare import run as run_compare
from marathon.lab.measure import Measurement, background_failures, observe, post, register
from marathon.lab.shared_knobs import shared_knobs
from marathon.local.servers import ServerProcess
from marathon.outcomes import judge
from marathon.scenarios import SCENARIOS, Scenario
from marathon.service import fake
from marathon.service.confirmations import FINAL
from marathon.service.settings import Settings
from marathon.strategies import STRATEGIES

__all__ = ["SCENARIOS", "Scenario", "ScenarioUnavailable", "for_server", "run", "verdict"]

QUICK = "db_latency_ms=5, email_latency_ms=5"


class ScenarioUnavailable(Exception):
    """The scenario needs something this target cannot give (e.g. a server it may stop)."""


def verdict(m: Measurement) -> str:
    """One line on what the user was told against what really happened (`marathon.outcomes`)."""
    return judge(m.outcome()).line(m.client_ms)


class Instance(Protocol):
    """A server the scenario may stop: `local.stack.ThreadedServer` (this process) or
    `local.servers.ServerProcess` (its own process)."""

    @property
    def url(self) -> str: ...

    def start(self) -> Instance: ...

    def stop(self) -> None: ...


# Make a server that shares the target's database and email API, not yet started.
InstanceFactory = Callable[[], Instance]


def _shutdown_runs(
    base_url: str, strategies: Sequence[str], header: str, instance: InstanceFactory
) -> dict[str, list[Measurement]]:
    runs: dict[str, list[Measurement]] = {}
    servers = [instance() for _ in strategies]
    try:
        for server in servers:  # a server process takes seconds to start: side by side
            getattr(server, "launch", lambda: None)()
        with httpx.Client(base_url=base_url, timeout=60) as observer:
            for strategy, server in zip(strategies, servers, strict=True):
                failures = background_failures(observer)
                server.start()
                with httpx.Client(base_url=server.url, timeout=60) as client:
                    m = post(client, strategy, knobs_header=header)
                server.stop()  # as on SIGTERM: finish requests, drain, close the loop
                # Same database and sandbox: the outcome is visible from here. A server in
                # another process took its log of failures with it, and its traces unless it
                # exported them here (`ServerProcess.serve(traces_to=)`), flushed before it exited.
                elsewhere = getattr(server, "traces_elsewhere", False)
                trace_id, m.trace_id = m.trace_id, None if elsewhere else m.trace_id
                observe(observer, m)
                m.trace_id = trace_id
                m.logged = background_failures(observer) > failures
                runs[strategy] = [m]
    finally:
        for server in servers:  # idempotent: whatever a failure left running
            server.stop()
    return runs


def _fault_runs(
    scenario: Scenario, base_url: str, strategies: Sequence[str], headers: Mapping[str, str]
) -> dict[str, list[Measurement]]:
    with httpx.Client(base_url=base_url, timeout=60, headers=dict(headers)) as client:
        with shared_knobs(client, dict(scenario.fault)):
            runs = {
                s: [register(client, s, knobs_header=scenario.knobs or None, await_job=False)]
                for s in strategies
            }
        for [m] in runs.values():
            if m.email_state not in (None, *FINAL):  # queued: now the fault has cleared
                observe(client, m, settle_timeout=60)
    return runs


def run(
    scenario: Scenario,
    base_url: str,
    strategies: Sequence[str] = tuple(STRATEGIES),
    *,
    instance: InstanceFactory | None = None,
    admin_headers: Mapping[str, str] | None = None,
) -> Comparison:
    """Run the scenario against a server and judge each strategy from the outcomes.

    A fault is set with `PUT /api/knobs` and put back, also if the runs fail; `admin_headers`
    (the instructor's `Authorization`) go with those calls."""
    if scenario.shutdown:
        if instance is None:
            raise ScenarioUnavailable(
                f"{scenario.name} stops servers: run it on the embedded stack, or ask the "
                "server to run it (POST /api/scenarios/{name})"
            )
        comparison = Comparison(base_url, scenario.knobs, {})
        comparison.runs = _shutdown_runs(base_url, strategies, scenario.knobs, instance)
    elif scenario.fault:
        comparison = Comparison(
            base_url,
            scenario.knobs,
            _fault_runs(scenario, base_url, strategies, admin_headers or {}),
        )
    elif scenario.duplicate:
        taken = fake.runner()
        with httpx.Client(base_url=base_url, timeout=60) as client:
            first = register(client, "sequential", body=taken, knobs_header=QUICK)
            if first.status != 201:
                raise RuntimeError(f"could not register the first runner: {first.status}")
            runs = {
                s: [
                    register(
                        client,
                        s,
                        body=fake.runner(email=taken["email"]),
                        knobs_header=scenario.knobs or None,
                    )
                ]
                for s in strategies
            }
        comparison = Comparison(base_url, scenario.knobs, runs)
    else:
        comparison = run_compare(base_url, strategies, knobs_header=scenario.knobs or None)
    comparison.verdicts = {s: verdict(comparison.typical(s)) for s in comparison.runs}
    return comparison


def for_server(scenario: Scenario, base_url: str, settings: Settings) -> dict[str, Any]:
    """What `POST /api/scenarios/{name}` runs (the app is handed it: `create_app(run_scenario=)`).

    `base_url` is the server itself over loopback; the instructor's token goes with the calls
    that change shared knobs. A shutdown scenario stops servers in processes of their own, whose
    spans come back to the server's `/v1/traces`."""
    token = settings.admin_token
    comparison = run(
        scenario,
        base_url,
        instance=lambda: ServerProcess.serve(settings, traces_to=f"{base_url}/v1/traces"),
        admin_headers={"Authorization": f"Bearer {token}"} if token else None,
    )
    comparison.jaeger_ui_url = settings.jaeger_ui_url
    result: dict[str, Any] = comparison.as_json()
    return result
