"""How `marathon demo` ends: after who waits, what gets lost, and where to go next.

The comparison shows the speed half of the thesis (every row "stored yes, email sent yes");
this plays the shutdown lesson (`shutdown-mid-flight`: SIGTERM right after the response) with
the scenario machinery, on the demo's own database and email API, and says which strategies lost
the email and which kept it, judged from the outcomes (`marathon.outcomes`: the verdicts
`email_lost` and `kept` of each strategy's shown run).

Usage::

    comparison = run(api.url, settings)
    console.print(render(comparison, width=console.width))
    print(next_steps(api.url, serving=True))
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from marathon.lab import compare, scenario_runner, stacks
from marathon.service.settings import Settings

__all__ = ["SCENARIO", "again", "next_steps", "render", "run"]

SCENARIO = "shutdown-mid-flight"


def run(base_url: str, settings: Settings) -> compare.Comparison:
    """Each strategy on a server of its own (same database and email API), stopped as soon as
    it has answered; the demo's own worker is still there to deliver what was queued."""
    return scenario_runner.run(
        scenario_runner.SCENARIOS[SCENARIO],
        base_url,
        instance=lambda: stacks.api_server(settings.with_(worker_in_process=False)),
    )


def render(c: compare.Comparison, *, width: int = 110) -> RenderableType:
    summaries = [c.summary(s) for s in c.runs]
    lost = [s["strategy"] for s in summaries if "email_lost" in s["verdicts"]]
    kept = [s["strategy"] for s in summaries if "kept" in s["verdicts"]]
    heading = Text.assemble(
        ("\nAnd what gets lost? ", "bold"),
        "The same registration, but the server gets SIGTERM right after it answers "
        f"(scenario {SCENARIO}, the lesson's step 3):",
    )
    verdict = Text.assemble(
        ("Lost the email: ", "bold red"),
        (", ".join(lost) or "none", "red"),
        ("\nKept it:        ", "bold green"),
        (", ".join(kept) or "none", "green"),
    )
    return Group(heading, compare.table(c, width=width), compare.verdicts(c), verdict)


def again(host: str, port: int) -> tuple[str, str]:
    """The command that serves the demo again where this one listened, and that address (a
    free port this time, `--port 0`, is the default one next time)."""
    port = port or 8000
    if host != "127.0.0.1":
        command = f".venv/bin/marathon demo --host {host} --port {port}"
    else:
        command = "make demo" + (f" PORT={port}" if port != 8000 else "")
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # where a browser here reaches it
    return command, f"http://{shown}:{port}"


def next_steps(
    page_url: str, *, serving: bool, host: str = "127.0.0.1", port: int = 8000, page: str = ""
) -> str:
    """Where to go next. `page_url`: the API this run served; once it has exited (`serving`
    False, its traces gone with it), the command that serves it again, and `page`, where this
    run's traces are drawn."""
    if serving:
        lesson_page, traces = f"{page_url}/lesson/1", []
    else:
        command, url = again(host, port)
        lesson_page = f"{command}\n{'':29}then {url}/lesson/1"  # in 80 columns
        traces = [f"  this run's traces:         drawn in {page}"] if page else []
    return "\n".join(
        [
            "",
            "What next:",
            f"  the lesson, step by step:  {lesson_page}",
            *traces,
            "  a failure on demand:       .venv/bin/marathon compare --scenario email-outage",
            "                             (every scenario: .venv/bin/marathon scenarios)",
            "  the notebooks:             make notebooks",
            "  the exercises:             .venv/bin/marathon workshop list",
        ]
    )
