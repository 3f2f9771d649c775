"""`marathon bench [NAME ...]`: one entry point for every benchmark, its help naming each, and
its command line light enough for `marathon --help` (no import of the harness, no cycle)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from marathon.bench import arguments, harness, suite
from marathon.cli import build_parser

PACKAGE = Path(__file__).parent.parent / "marathon"


def _bench_help(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "--help"])
    return capsys.readouterr().out


def test_help_names_every_registered_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(harness.BENCHMARKS) == list(arguments.BENCHMARKS), "registered = declared"
    text = _bench_help(capsys)
    for name, what in arguments.BENCHMARKS.items():
        assert f"  {name:<12} {what}" in text, name
    for flag in ("--quick", "--only", "--repeat", "--no-wrk", "--json", "--outage-s"):
        assert flag in text
    for flag in ("--registrations", "--burst", "--concurrency", "--knobs", "--together"):
        assert flag in text


def test_a_benchmark_must_be_declared_to_register() -> None:
    with pytest.raises(ValueError, match="declare 'nameless'"):
        harness.register("nameless")


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        ([], list(arguments.BENCHMARKS)),
        (["outage"], ["outage"]),
        (["--only", "queue"], ["queue"]),  # as before
        (
            ["shutdown", "outage", "--only", "queue", "--only", "outage"],
            ["shutdown", "outage", "queue"],
        ),
    ],
)
def test_names_and_only_choose_the_benchmarks(argv: list[str], names: list[str]) -> None:
    assert arguments.chosen(build_parser().parse_args(["bench", *argv])) == names


def test_an_unknown_name_is_refused_while_parsing(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "outages"])
    assert "no benchmark 'outages'" in capsys.readouterr().err


def test_flags_override_the_full_run_or_the_quick_variant() -> None:
    def options(*argv: str) -> harness.Options:
        return suite.options(build_parser().parse_args(["bench", *argv]))

    assert options() == harness.Options()
    assert options("--quick") == harness.Options.quick_variant()
    o = options("--quick", "--outage-s", "1.5", "--burst", "40", "--knobs", "db_latency_ms=0")
    assert (o.quick, o.outage_s, o.shutdown_burst, o.shutdown_knobs) == (
        True,
        1.5,
        40,
        "db_latency_ms=0",
    )
    assert o.registrations == 5 and o.shutdown_together, "the rest: --quick's"
    assert options("--together").shutdown_together
    assert options("--repeat", "2").repeat == 2 and not options("--no-wrk").prefer_wrk


def test_parsing_does_not_import_the_harness() -> None:
    code = (
        "import sys; from marathon.cli import build_parser; build_parser()"
        ".parse_args(['bench', '--quick']); assert 'marathon.bench.harness' not in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _is_module(name: str) -> bool:
    path = PACKAGE.parent / name.replace(".", "/")
    return path.with_suffix(".py").exists() or path.is_dir()


def _imports(path: Path) -> set[str]:
    """The marathon modules a file imports, function-level imports included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("marathon")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("marathon"):
            for a in node.names:  # `from marathon.bench import suite` imports the submodule
                sub = f"{node.module}.{a.name}"
                found.add(sub if _is_module(sub) else str(node.module))
    return found


def _graph() -> dict[str, set[str]]:
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        graph[name] = _imports(path)
    return graph


def test_no_import_cycle_through_the_benchmarks_or_the_cli() -> None:
    graph = _graph()

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    mine = [m for m in graph if m.startswith(("marathon.bench", "marathon.cli"))]
    assert {"marathon.bench.harness", "marathon.cli", "marathon.cli.commands"} <= set(mine)
    assert [m for m in mine if reaches(m, m)] == []
    assert graph["marathon.bench.arguments"] == set(), "light: it imports nothing of ours"
