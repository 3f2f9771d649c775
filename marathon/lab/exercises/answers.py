"""Which answer to test, in which order.

- Each exercise's tests run on the learner's file, as its `.meta/config.json` names it, imported
  by the `answer` fixture. `--answer FILE` (repeatable) tests other files instead, one run per
  file: the project's proof runs the exemplar, the stub and the known-wrong answers in one
  process (`tests/test_exercises.py`).
- Tests run in task order (`@pytest.mark.task(n)`), per answer, and once a task fails, that
  answer's later tests are skipped: one thing at a time, as on exercism.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from marathon.lab.exercises import config

__all__ = [
    "answer",
    "answer_of",
    "failed",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_generate_tests",
    "pytest_runtest_setup",
    "task",
    "variant",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("workshop")
    group.addoption(
        "--answer",
        action="append",
        default=[],
        metavar="FILE",
        help="test this answer file instead of the exercise's own (repeatable)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "task(n): the exercise task a test checks")


def variant(exercise: Path, answer: Path) -> str:
    """A short name for an answer: `exemplar`, `wrong:awaits-email`, or the file's stem."""
    try:
        return answer.relative_to(exercise / ".meta").with_suffix("").as_posix().replace("/", ":")
    except ValueError:
        return answer.stem


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "answer_file" in metafunc.fixturenames:
        exercise = metafunc.definition.path.parent
        given = [Path(a).resolve() for a in metafunc.config.getoption("answer")]
        files = given or [config.read(exercise).solution]
        # Module scope: each answer gets one app for all its tests (the proof runs many answers).
        metafunc.parametrize(
            "answer_file", files, ids=[variant(exercise, f) for f in files], scope="module"
        )


def task(item: pytest.Item) -> int:
    marker = item.get_closest_marker("task")
    return int(marker.args[0]) if marker else 0


def answer_of(item: pytest.Item) -> Path | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("answer_file") if callspec else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Per exercise (in the order given), per answer, in task order (a stable sort keeps each
    file's own order)."""
    folders = [i.path.parent for i in items]
    files = [str(answer_of(i)) for i in items]
    items.sort(
        key=lambda i: (folders.index(i.path.parent), files.index(str(answer_of(i))), task(i))
    )


_failed_first: dict[tuple[str, str], int] = {}  # (exercise, answer) -> its first failing task


def failed(item: pytest.Item) -> None:
    """Remember the item's task as its answer's first failure (later ones are skipped)."""
    _failed_first.setdefault((item.path.parent.name, str(answer_of(item))), task(item))


def pytest_runtest_setup(item: pytest.Item) -> None:
    first = _failed_first.get((item.path.parent.name, str(answer_of(item))))
    if first is not None:
        pytest.skip(f"task {first} fails first: one task at a time")


_modules: dict[Path, ModuleType] = {}


@pytest.fixture(scope="module")
def answer(answer_file: Path) -> ModuleType:
    """The answer under test, imported from its file (once per run)."""
    if answer_file not in _modules:
        spec = importlib.util.spec_from_file_location(f"answer{len(_modules)}", answer_file)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _modules[answer_file] = module
    return _modules[answer_file]
