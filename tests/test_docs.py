"""The docs cannot rot: every knob, setting, endpoint and flag is documented, quoted code is the
real code, and every Python block runs."""

from __future__ import annotations

import argparse
import inspect
import re
import shlex
from pathlib import Path

import pytest

from marathon import knobs, strategies
from marathon.app import create_app
from marathon.cli import build_parser
from marathon.local.sandbox import create_sandbox
from marathon.service.settings import Settings

DOCS = Path(__file__).parent.parent / "docs"
ALL_DOCS = "\n".join(p.read_text() for p in sorted(DOCS.rglob("*.md")))


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def _template(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def test_every_knob_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    for k in knobs.describe():
        assert f"`{k['env']}`" in text and f"`{k['name']}`" in text, k["name"]


def test_every_setting_is_documented() -> None:
    """docs/configuration.md generates its table from the declaration, and explains by hand
    only variables that exist."""
    from marathon.service.settings import SETTINGS
    from tools import docs_site

    page = (DOCS / "configuration.md").read_text()
    text = docs_site.expand(page, "configuration.md")
    for s in SETTINGS:
        assert f"| `{s.env}` |" in text, s.env
    settings_part = page.split("## Settings", 1)[1].split("## Knobs", 1)[0]
    named = set(re.findall(r"`((?:MARATHON|OTEL|RESEND|JAEGER)_[A-Z_]+)", settings_part))
    assert named <= {s.env for s in SETTINGS}, named - {s.env for s in SETTINGS}


@pytest.mark.parametrize(
    ("app", "doc"),
    [
        (lambda: create_app(Settings(database_url="postgresql://unused")), "api.md"),
        (lambda: create_sandbox(traced=False), "sandbox.md"),
    ],
)
def test_every_endpoint_is_documented(app: object, doc: str) -> None:
    text = (DOCS / doc).read_text()
    documented = {_template(p) for p in re.findall(r"`(?:GET|POST|PUT|DELETE) (/[^`? ]*)", text)}
    for route in app().routes:  # type: ignore[operator]
        if route.path.startswith("/schema"):
            continue
        for method in sorted(route.methods - {"OPTIONS", "HEAD"}):
            assert _template(route.path) in documented, f"{method} {route.path} not in {doc}"


def test_every_command_and_flag_is_documented() -> None:
    text = (DOCS / "commands.md").read_text()
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        assert f"## `marathon {name}" in text, name
        for action in command._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert flag in text, f"marathon {name} {flag}"
    for action in parser._actions:
        for flag in action.option_strings:
            assert flag in text or flag in ("-h", "--help"), flag


def test_the_strategies_page_quotes_the_real_code() -> None:
    quoted = _blocks((DOCS / "learn" / "strategies.md").read_text(), "python")
    for fn in (
        strategies.sequential,
        strategies.fire_and_forget,
        strategies.concurrent,
        strategies.wait_until,
        strategies.queued,
    ):
        assert inspect.getsource(fn) in quoted, f"{fn.__name__} differs from the page"


# strategies.md quotes module source (checked above); every other Python block is an example,
# in every page of the site (the pages in subfolders quote code only through the site's hook).
PAGES = sorted(DOCS.rglob("*.md"))
RUNNABLE = [p for p in PAGES if "```python" in p.read_text() and p.name != "strategies.md"]


def _shell_lines(text: str) -> list[str]:
    """Each command of the sh blocks, continuation lines joined, leading VAR=value dropped."""
    lines = []
    for block in _blocks(text, "sh"):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"^(?:[A-Z_]+=\S+\s+)+", "", line.split("  #")[0].strip())
            if line:
                lines.append(line)
    return lines


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_shell_commands_exist(path: Path) -> None:
    """Every `marathon ...` line of a page parses with the real CLI; every `make X` is a target,
    every `make X VAR=value` a variable of the Makefile."""
    makefile = (DOCS.parent / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z-]+):", makefile, re.M))
    variables = set(re.findall(r"^([A-Z_]+) \?=", makefile, re.M))  # `make demo PORT=8300`
    parser = build_parser()
    for line in _shell_lines(path.read_text()):
        words = shlex.split(line)
        if words[0] in ("marathon", ".venv/bin/marathon"):
            try:
                parser.parse_args(words[1:])
            except SystemExit:
                pytest.fail(f"{path.name}: `{line}` is not a valid marathon command")
        elif words[0] == "make":
            named = {w for w in words[1:] if "=" not in w}
            assert named <= targets, f"{path.name}: `{line}`: no such make target"
            given = {w.split("=")[0] for w in words[1:] if "=" in w}
            assert given <= variables, f"{path.name}: `{line}`: the Makefile has no such variable"


@pytest.mark.parametrize("path", RUNNABLE, ids=lambda p: p.name)
def test_python_blocks_run(path: Path) -> None:
    for block in _blocks(path.read_text(), "python"):
        exec(compile(block, str(path), "exec"), {})
