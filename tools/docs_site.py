"""The documentation site's MkDocs hook: what the pages show is generated from the code.

A page asks for generated content with a directive on a line of its own::

    <!-- marathon:source marathon.strategies.sequential -->   the function's real source
    <!-- marathon:waterfall wait-until -->                      docs/traces/wait-until.json, drawn
    <!-- marathon:terminal sequential,wait-until -->            the same in the terminal view
    <!-- marathon:knobs -->  <!-- marathon:settings -->  <!-- marathon:commands -->
    <!-- marathon:scenarios -->  <!-- marathon:endpoints -->  <!-- marathon:sandbox-endpoints -->
    <!-- marathon:verdicts -->                                 the verdict vocabulary
    <!-- marathon:thesis -->                                   the thesis table, from LESSONS

so the knob and settings tables, the thesis, the `--help` of every command, the scenarios, the
endpoints, the verdicts, the quoted code and the waterfalls cannot drift from the code.
README.md keeps a copy of the thesis table between marker comments (`python -m tools.thesis`
rewrites it). An unknown directive stops the build.

The waterfalls are SVG files drawn by the project's own view (`marathon.views.svg`) from saved
traces in Jaeger's JSON shape (`docs/traces/*.json`). Screenshots live in `docs/screenshots/`;
when the browser tests have written a newer copy to `artifacts/screenshots/`, the site uses it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import json
import os
import posixpath
import re
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # MkDocs is a dev dependency; the app never imports this module
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files
    from mkdocs.structure.pages import Page

    from marathon.views.waterfall import Waterfall

__all__ = [
    "DIRECTIVE",
    "commands",
    "endpoints",
    "expand",
    "knobs_table",
    "outside_links",
    "saved_trace",
    "scenarios_table",
    "screenshot_source",
    "settings_table",
    "source",
    "terminal_view",
    "thesis_table",
    "verdicts_table",
    "waterfall_svg",
]

ROOT = Path(__file__).resolve().parent.parent
TRACES = ROOT / "docs" / "traces"
ARTIFACT_SCREENSHOTS = ROOT / "artifacts" / "screenshots"
DIRECTIVE = re.compile(r"^<!-- marathon:([a-z-]+)(?: (\S+))? -->$", flags=re.M)
SITE_COLUMNS = 80  # what a code block of the site shows without scrolling
HELP_COLUMNS = "100"  # argparse wraps to $COLUMNS: fixed, so the page does not depend on a terminal


def source(dotted: str) -> str:
    """The real source of `package.module.function` (or `...module.Class.method`), fenced."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):  # the longest importable module prefix
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return f"```python\n{textwrap.dedent(inspect.getsource(obj))}```"
    raise ValueError(f"marathon:source {dotted}: no such module")


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _num(value: float) -> str:
    """1000000, not 1e+06; 0.1 stays 0.1."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def knobs_table() -> str:
    from marathon import knobs

    rows = [
        "| name | variable | default | range | per request | what it does |",
        "|---|---|---|---|---|---|",
    ]
    for k in knobs.describe():
        span = " / ".join(k["choices"]) if k["choices"] else f"{_num(k['min'])} to {_num(k['max'])}"
        default = _num(k["default"]) if isinstance(k["default"], float) else k["default"]
        if k["scope"] == "shared":  # the header may not change it (a 400 says so)
            scope = "no: shared"
        elif k["request_max"] is not None and k["request_max"] != k["max"]:
            scope = f"up to {_num(k['request_max'])}"
        else:
            scope = "yes"
        rows.append(
            f"| `{k['name']}` | `{k['env']}` | {default} | {span} | {scope} | {_cell(k['doc'])} |"
        )
    return "\n".join(rows)


def settings_table() -> str:
    """Every environment variable of `marathon.service.settings.SETTINGS`, and who reads it."""
    from marathon.service.settings import SETTINGS

    rows = ["| variable | default | meaning | read by |", "|---|---|---|---|"]
    for s in SETTINGS:
        where = (
            f"`Settings.{s.field}`"
            if s.field
            else re.sub(r"(marathon(?:\.\w+)+)", r"`\1`", s.read_by)
        )
        rows.append(f"| `{s.env}` | {_cell(s.default)} | {_cell(s.meaning)} | {where} |")
    return "\n".join(rows)


def thesis_table(docs: str = "docs/") -> str:
    """strategy, ordering, the status it answers, what the user waits for, what can be lost:
    `marathon.strategies.LESSONS`, each strategy linked to its lesson under `docs` (a path)."""
    from marathon.routes.registrations import SUCCESS_STATUS
    from marathon.strategies import CREATED, LESSONS

    rows = [
        "| strategy | ordering | answers | the user waits for | can lose |",
        "|---|---|---|---|---|",
    ]
    for name, lesson in LESSONS.items():
        cells = [
            f"[`{name}`]({docs}learn/{name}.md)",
            lesson.ordering,
            f"`{SUCCESS_STATUS.get(name, CREATED)}`",
            lesson.waits_for,
            lesson.can_lose,
        ]
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(rows)


@contextlib.contextmanager
def _columns(n: str) -> Iterator[None]:
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = n
    try:
        yield
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def commands() -> str:
    """`marathon --help` and every `marathon COMMAND --help`, as the terminal prints them."""
    from marathon.cli import build_parser

    with _columns(HELP_COLUMNS):
        parser = build_parser()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parts = [f"## `marathon --help`\n\n```text\n{parser.format_help()}```"]
        for name, command in sub.choices.items():
            parts.append(f"## `marathon {name}`\n\n```text\n{command.format_help()}```")
    return "\n\n".join(parts)


def scenarios_table() -> str:
    from marathon.lab.scenario_runner import SCENARIOS

    rows = ["| scenario | lesson | knobs of every request | run it |", "|---|---|---|---|"]
    for s in SCENARIOS.values():
        knobs = f"`{s.knobs}`" if s.knobs else "defaults"
        run = f"`marathon compare --scenario {s.name}`"
        rows.append(f"| `{s.name}` | {_cell(s.teaches)} | {knobs} | {run} |")
    return "\n".join(rows)


def verdicts_table() -> str:
    """The verdict vocabulary (`marathon/outcomes.py`), in the order a verdict line names it."""
    from marathon.outcomes import VERDICTS

    rows = ["| key | label | in the verdict line | when |", "|---|---|---|---|"]
    for v in VERDICTS.values():
        rows.append(f"| `{v.key}` | {_cell(v.label)} | {_cell(v.sentence)} | {_cell(v.when)} |")
    return "\n".join(rows)


def _first_sentence(doc: str | None) -> str:
    text = " ".join((doc or "").strip().split("\n\n")[0].split())
    return text or "-"


def endpoints(which: str = "api") -> str:
    """One row per method and path of the app (or the sandbox), with its handler's docstring."""
    from marathon.strategies import LESSONS

    if which == "sandbox":
        from marathon.local.sandbox import create_sandbox

        app: Any = create_sandbox(traced=False)
    else:
        from marathon.app import create_app
        from marathon.service.settings import Settings

        app = create_app(Settings(database_url="postgresql://unused"))
    rows = ["| endpoint | what it does |", "|---|---|"]
    for route in app.routes:
        if route.path.startswith("/schema/"):
            continue
        path = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", route.path)
        for handler in route.route_handlers:
            methods = sorted(set(handler.http_methods) - {"OPTIONS", "HEAD"})
            if not methods:
                continue
            strategy = path.removeprefix("/api/marathon/")
            lesson = LESSONS.get(strategy)
            doc = lesson.ordering if lesson else _first_sentence(handler.fn.__doc__)
            for method in methods:
                rows.append(f"| `{method} {path}` | {_cell(doc)} |")
    return "\n".join(rows)


def saved_trace(name: str) -> Waterfall:
    """`docs/traces/NAME.json` (Jaeger UI's upload shape, `{"data": [trace, ...]}`) as one
    waterfall: a queued registration's file holds the request trace and its linked attempt
    traces, merged here as the project's views merge them (attempts marked by their link)."""
    from marathon.views.waterfall import from_jaeger

    traces = json.loads((TRACES / f"{name}.json").read_text())["data"]
    spans: list[dict[str, Any]] = []
    processes: dict[str, Any] = {}
    for i, trace in enumerate(traces):  # process ids are per trace: keep them apart
        processes.update({f"t{i}{key}": p for key, p in trace["processes"].items()})
        spans += [{**span, "processID": f"t{i}{span['processID']}"} for span in trace["spans"]]
    return from_jaeger({"traceID": traces[0]["traceID"], "spans": spans, "processes": processes})


def waterfall_svg(name: str) -> str:
    """A saved trace drawn by the project's SVG view."""
    from marathon.views import svg

    return svg.svg([saved_trace(name)])


def terminal_view(names: str) -> str:
    """Saved traces (comma-separated names) on one time axis, as `marathon compare` prints them."""
    from marathon.views import terminal

    waterfalls = [saved_trace(name) for name in names.split(",")]
    # The column of the site's text (Material, at its default font) holds 80 characters:
    # wider, the ms column hides behind a scroll bar.
    return f"```text\n{terminal.text(waterfalls, width=SITE_COLUMNS)}```"


def _waterfall_link(name: str, page_uri: str) -> str:
    if not (TRACES / f"{name}.json").is_file():
        raise ValueError(f"marathon:waterfall {name}: no docs/traces/{name}.json")
    here = posixpath.dirname(page_uri)
    svg = posixpath.relpath(f"waterfalls/{name}.svg", here or ".")
    trace = posixpath.relpath(f"traces/{name}.json", here or ".")
    return (
        f"![the {name} waterfall, from a saved trace]({svg})\n\n"
        f"<small>Drawn at build time by `marathon.views.svg` from [a saved trace]({trace}) "
        "(a file Jaeger UI's JSON upload takes; fresh ones: "
        "`marathon compare --jaeger-json FILE`).</small>"
    )


def expand(markdown: str, page_uri: str = "index.md") -> str:
    """Replace every directive in a page's Markdown by what it generates."""

    def one(m: re.Match[str]) -> str:
        name, arg = m.group(1), m.group(2)
        if name == "source" and arg:
            return source(arg)
        if name == "waterfall" and arg:
            return _waterfall_link(arg, page_uri)
        if name == "terminal" and arg:
            return terminal_view(arg)
        if name == "thesis" and arg is None:  # links relative to the page
            up = posixpath.relpath(".", posixpath.dirname(page_uri) or ".")
            return thesis_table("" if up == "." else f"{up}/")
        simple: dict[str, Callable[[], str]] = {
            "knobs": knobs_table,
            "settings": settings_table,
            "commands": commands,
            "scenarios": scenarios_table,
            "endpoints": lambda: endpoints("api"),
            "sandbox-endpoints": lambda: endpoints("sandbox"),
            "verdicts": verdicts_table,
        }
        if name in simple and arg is None:
            return simple[name]()
        raise ValueError(f"{page_uri}: unknown directive {m.group(0)}")

    return DIRECTIVE.sub(one, markdown)


def screenshot_source(committed: Path, artifacts: Path = ARTIFACT_SCREENSHOTS) -> Path:
    """The committed screenshot, or the browser tests' copy of it when that one is newer."""
    fresh = artifacts / committed.name
    if fresh.is_file() and fresh.stat().st_mtime > committed.stat().st_mtime:
        return fresh
    return committed


# MkDocs hooks (https://www.mkdocs.org/user-guide/configuration/#hooks)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    from mkdocs.structure.files import File

    for trace in sorted(TRACES.glob("*.json")):
        uri = f"waterfalls/{trace.stem}.svg"
        files.append(File.generated(config, uri, content=waterfall_svg(trace.stem)))
    # Fresher screenshots from the browser tests replace the committed copies in the site.
    for file in list(files):
        if file.src_uri.startswith("screenshots/") and file.abs_src_path:
            use = screenshot_source(Path(file.abs_src_path))
            if str(use) != file.abs_src_path:
                files.remove(file)
                files.append(File.generated(config, file.src_uri, abs_src_path=str(use)))
    return files


LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def outside_links(markdown: str, page_uri: str) -> str:
    """Links from a page to files outside `docs/` (e.g. `../exercises/README.md`, which reads
    well on GitHub) become the repository path in code: the site does not hold those files."""

    def one(m: re.Match[str]) -> str:
        target = m.group(2)
        if "://" in target or target.startswith(("#", "mailto:")):
            return m.group(0)
        path = posixpath.normpath(posixpath.join(posixpath.dirname(page_uri), target))
        if not path.startswith("../"):
            return m.group(0)
        return f"{m.group(1)} (`{path.removeprefix('../')}` in the repository)"

    return LINK.sub(one, markdown)


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    return outside_links(expand(markdown, page.file.src_uri), page.file.src_uri)
