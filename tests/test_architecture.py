"""The tree is the architecture: the package's import graph has no cycle, and each layer imports
only the layers below it (docs/development.md, "A map of the house").

Imports inside functions count (a lazy import is still a dependency); imports under
`if TYPE_CHECKING:` do not (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "marathon"

# Who may import whom, by top-level part of the package (`marathon.<part>`); the reading order
# at the top (strategies, background, ...) is "core". A part may always import itself.
CORE = {"strategies", "background", "lifecycle", "registration", "knobs", "scenarios", "outcomes"}
MAY_IMPORT = {
    "tracing": set(),
    "core": {"core", "tracing", "service"},
    "service": {"core", "tracing"},
    "views": {"core", "tracing"},
    "routes": {"core", "tracing", "service", "views"},
    "app": {"core", "tracing", "service", "views", "routes"},
    "local": {"core", "tracing", "service"},
    "lab": {"core", "tracing", "service", "views", "app", "local"},
    "bench": {"core", "tracing", "service", "views", "app", "local", "lab"},
    "cli": {"core", "tracing", "service", "views", "app", "local", "lab", "bench"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    part = module.split(".")[1] if "." in module else "core"
    if part == "__main__":  # `python -m marathon`: the command line's entry point
        return "cli"
    return "core" if part in CORE else part


def imports(path: Path, known: set[str]) -> set[str]:
    """The package's modules that `path` imports at run time."""
    tree = ast.parse(path.read_text(), str(path))
    type_only = {
        id(node)
        for branch in ast.walk(tree)
        if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
        for node in ast.walk(branch)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if name in known else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in known}


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(files)
    return {m: imports(p, known) - {m} for m, p in files.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                found.append(sorted([v, *component]))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_has_no_cycle() -> None:
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_each_layer_imports_only_those_below_it() -> None:
    wrong = [
        f"{m} ({layer(m)}) imports {d} ({layer(d)})"
        for m, deps in sorted(graph().items())
        for d in sorted(deps)
        if layer(d) != layer(m) and layer(d) not in MAY_IMPORT[layer(m)]
    ]
    assert wrong == []


@pytest.mark.parametrize("tool", ["playwright", "mkdocs", "pytest", "tools"])
def test_dev_only_tools_stay_out_of_the_runtime_package(tool: str) -> None:
    """The docs hook and the screenshots live in tools/; the exercises' pytest plugin is the one
    part of the package that may import pytest (pytest loads it, nothing else does)."""
    users = sorted(
        module_name(p)
        for p in PACKAGE.rglob("*.py")
        if any(
            (isinstance(n, ast.Import) and any(a.name.split(".")[0] == tool for a in n.names))
            or (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == tool)
            for n in ast.walk(ast.parse(p.read_text()))
        )
    )
    allowed = "marathon.lab.exercises." if tool == "pytest" else "-"
    assert [u for u in users if not u.startswith(allowed)] == []


def test_the_command_line_parses_without_the_heavy_layers() -> None:
    """`marathon --help` answers at once: the parser imports declarations (knobs, scenarios,
    settings), never the app, the lab or the local stack it only starts once the arguments
    are fine."""
    import subprocess
    import sys

    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, marathon.cli; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    heavy = sorted(m for m in loaded if m.startswith(("marathon.lab", "marathon.app", "litestar")))
    assert heavy == []
