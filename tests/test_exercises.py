"""The workshop exercises, proven in both directions and against known-wrong answers (like
exercism's bin/test_exercises.py): every exemplar passes its tests; every stub fails them; every
answer in `.meta/wrong/` fails with the coaching message meant for its mistake (the `expect:`
line of its docstring), and every message is short: one line, no span reprs, no nanoseconds.

One pytest subprocess per exercise runs all its answers (`--answer`, repeatable) and shares this
session's embedded PostgreSQL (`MARATHON_EXERCISE_DATABASE_URL`). The folders keep exercism's
shape: only what the learner touches, plus `.meta/` (with `config.json` naming the files); the
harness is a plugin in the package (`marathon.lab.exercises`)."""

from __future__ import annotations

import ast
import inspect
import io
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from marathon import cli
from marathon.lab import coach
from marathon.lab.exercises import config

ROOT = Path(__file__).parent.parent
EXERCISES = coach.exercises(ROOT / "exercises")
HARNESS = ROOT / "marathon" / "lab" / "exercises"
# The learner's answers are their work in progress (maybe not even Python yet): not checked here.
SOLUTIONS = {config.read(e.path).solution for e in EXERCISES}


def project_files() -> list[Path]:
    """The Python files of exercises/ that the project answers for."""
    return [p for p in (ROOT / "exercises").rglob("*.py") if p not in SOLUTIONS]


def expected_message(wrong: Path) -> str:
    doc = ast.get_docstring(ast.parse(wrong.read_text())) or ""
    found = re.search(r"^expect: (.+)$", doc, flags=re.M)
    assert found, f"{wrong}: its docstring needs an `expect: <message fragment>` line"
    return found.group(1).strip()


def test_there_are_eight_exercises_in_order() -> None:
    assert [e.number for e in EXERCISES] == list(range(1, 9))


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.path.name)
def test_each_exercise_has_what_the_coach_needs(exercise: coach.Exercise) -> None:
    meta = exercise.meta
    assert (exercise.path / "README.md").exists() and (meta / "exemplar.py").exists()
    assert (meta / "stub.py").exists(), "`marathon workshop reset` restores .meta/stub.py"
    assert len(coach.hints_of(exercise)) >= 2, "progressive hints: two at least"
    assert len(exercise.wrong_answers()) >= 2, "two known-wrong answers at least"
    for wrong in exercise.wrong_answers():
        expected_message(wrong)


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.path.name)
def test_each_config_names_the_folders_files(exercise: coach.Exercise) -> None:
    cfg = config.read(exercise.path)
    for role, paths in cfg.files.items():
        for path in paths:
            assert path.is_file(), f"{exercise.path.name}: {role} {path.name} does not exist"
    assert cfg.solution.parent == exercise.path and cfg.one("stub").parent == exercise.meta
    assert exercise.path.name == f"{exercise.number:02d}-{cfg.slug}"
    heading = (exercise.path / "README.md").read_text().splitlines()[0]
    assert heading == f"# {exercise.number:02d} · {cfg.title}", "the README's title is the config's"
    assert set(cfg.files["test"]) == set(exercise.path.glob("test_*.py")), "every test declared"


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.path.name)
def test_the_folder_holds_only_what_the_learner_touches(exercise: coach.Exercise) -> None:
    cfg = config.read(exercise.path)
    mine = {exercise.path / "README.md", cfg.solution, *cfg.files["test"]}
    there = {p for p in exercise.path.iterdir() if p.name not in (".meta", "__pycache__")}
    assert there == mine, "harness code belongs in marathon/lab/exercises, not here"


def test_the_harness_is_not_in_the_exercises() -> None:
    root = ROOT / "exercises"
    assert {p.name for p in root.iterdir() if not p.is_dir()} == {"README.md", "pytest.ini"}
    assert not list(root.rglob("conftest.py"))
    assert "-p marathon.lab.exercises.plugin" in (root / "pytest.ini").read_text()
    for path in project_files():
        hooks = [
            node.name
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.FunctionDef) and node.name.startswith("pytest_")
        ]
        assert not hooks, f"{path}: pytest hooks belong in the plugin, not here: {hooks}"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return found | {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}


def test_neither_the_exercises_nor_their_harness_import_the_projects_tests() -> None:
    files = [*project_files(), *HARNESS.rglob("*.py")]
    assert len(files) > 60  # the exercises' tests, answers and the plugin's modules
    for path in files:
        wrong = {m for m in _imports(path) if m.split(".")[0] in ("tests", "conftest")}
        assert not wrong, f"{path} imports {wrong}: the harness is marathon.lab.exercises"


def test_the_work_api_is_documented_where_the_learner_reads_without_the_answers() -> None:
    """`marathon/strategies.py` holds answers to exercises 01, 02, 04 and 05: the learner reads
    `Work`'s docstring in exercises/README.md instead, and every exercise points there."""
    from marathon.strategies import Work

    doc = inspect.getdoc(Work) or ""
    bullets = [" ".join(b.split()) for b in re.split(r"^- ", doc, flags=re.M)[1:]]
    readme = " ".join((ROOT / "exercises" / "README.md").read_text().split())
    assert len(bullets) == 5 and all(f"- {b}" in readme for b in bullets), "README = docstring"
    for e in EXERCISES:
        for path in (e.path / "README.md", e.stub, e.meta / "hints.md"):
            assert "strategies.py" not in path.read_text(), f"{path}: the answers are there"
        if "work: Work" in e.stub.read_text():
            assert "../README.md#the-work-api" in (e.path / "README.md").read_text(), e.path


def test_the_lint_leaves_the_learners_files_alone(tmp_path: Path) -> None:
    """`make test` lints `exercises/`, but not the answers a learner is working on; the stubs,
    exemplars and wrong answers stay linted."""
    ruff = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]
    solutions = {path.relative_to(ROOT).as_posix() for path in SOLUTIONS}
    assert set(ruff["extend-exclude"]) == solutions, "pyproject's list is the configs' solutions"
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "marathon").symlink_to(ROOT / "marathon")  # first-party, for the import order
    shutil.copytree(ROOT / "exercises", tmp_path / "exercises")
    unfinished = "import os\nasync def wait_until(work, runner):\n    x = 1\n"
    (tmp_path / "exercises" / "02-wait-until" / "strategy.py").write_text(unfinished)
    ruff_bin = str(Path(sys.executable).parent / "ruff")
    proc = subprocess.run(
        [ruff_bin, "check", "--no-cache", "exercises"], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout
    (tmp_path / "exercises" / "02-wait-until" / ".meta" / "stub.py").write_text(unfinished)
    proc = subprocess.run(
        [ruff_bin, "check", "--no-cache", "exercises"], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 1 and "stub.py" in proc.stdout, proc.stdout


def test_a_config_without_its_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".meta").mkdir()
    (tmp_path / ".meta" / "config.json").write_text(
        json.dumps({"slug": "x", "title": "X", "files": {"solution": ["x.py"], "test": []}})
    )
    with pytest.raises(ValueError, match="files for solution, test, exemplar, stub"):
        config.read(tmp_path)


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.path.name)
def test_the_answers_are_told_apart(exercise: coach.Exercise, pg_url: str, tmp_path: Path) -> None:
    exemplar, stub = exercise.meta / "exemplar.py", exercise.meta / "stub.py"
    wrongs = exercise.wrong_answers()
    results, proc = coach.run_tests(
        [exercise.path],
        [exemplar, stub, *wrongs],
        env={"MARATHON_EXERCISE_DATABASE_URL": pg_url},
        timeout=240,
    )
    assert results, proc.stdout[-3000:] + proc.stderr[-3000:]

    def of(answer: Path) -> list[dict[str, object]]:
        return [r for r in results if r["answer"] == str(answer.resolve())]

    passed = of(exemplar)
    assert passed and all(r["outcome"] == "passed" for r in passed), [
        (r["test"], r["message"]) for r in passed if r["outcome"] != "passed"
    ]
    assert coach.first_failure(of(stub)), "the untouched stub passed its tests"
    for wrong in wrongs:
        failed = coach.first_failure(of(wrong))
        assert failed, f"{wrong.name} passed every task"
        message = str(failed["message"])
        assert expected_message(wrong) in message, f"{wrong.name}: {message}"
    for r in results:
        message = str(r["message"] or "")
        assert "\n" not in message and len(message) < 500, message
        assert not re.search(r"\d{9,}|ReadableSpan|_Span\(|0x[0-9a-f]{6,}", message), message


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str) -> Path:
    """A learner's copy of two exercises, the coach's progress in a temporary data dir."""
    for name in ("pytest.ini", "02-wait-until", "06-retry-delay"):
        source = ROOT / "exercises" / name
        target = tmp_path / "exercises" / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARATHON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MARATHON_EXERCISE_DATABASE_URL", pg_url)
    # The harness from this checkout's package, wherever the editable install points.
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return tmp_path / "exercises"


def test_check_coaches_with_the_first_failing_task_and_the_waterfall(
    checkout: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    exercise = checkout / "02-wait-until"
    shutil.copy(exercise / ".meta" / "wrong" / "uncalled.py", exercise / "strategy.py")
    monkeypatch.setenv("COLUMNS", "80")
    assert cli.main(["workshop", "check", "2"]) == 1
    out = capsys.readouterr().out
    wide = [line for line in out.splitlines() if len(line) > 80]
    assert wide == [], "the coaching is wider than the terminal"
    assert "task 1 of 5 fails" in out
    assert "Your code raised TypeError: a coroutine was expected" in out
    assert "(strategy.py, line 14: work.wait_until(work.confirm)" in out
    assert "Your waterfall" in out and "POST /api/marathon/exercise" in out
    assert "The shape the tests expect" in out
    assert "Traceback (most recent" not in out and "task 2" not in out
    assert cli.main(["workshop", "list"]) == 0
    assert re.search(r"2  Answer first, keep the promise\s+failing", capsys.readouterr().out)


def test_check_passes_then_list_hint_reset_and_solution(
    checkout: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    exercise = checkout / "06-retry-delay"
    shutil.copy(exercise / ".meta" / "exemplar.py", exercise / "retry.py")
    assert cli.main(["workshop", "check", "6"]) == 0
    assert "all 5 tasks pass" in capsys.readouterr().out
    cli.main(["workshop", "list"])
    assert re.search(r"6  When to try again\s+passing", capsys.readouterr().out)

    cli.main(["workshop", "hint", "6"])
    cli.main(["workshop", "hint", "6"])
    out = capsys.readouterr().out
    assert "Hint 1 of 3" in out and "Hint 2 of 3" in out

    assert cli.main(["workshop", "reset", "6"]) == 0
    assert (exercise / "retry.py").read_text() == (exercise / ".meta" / "stub.py").read_text()
    assert "saved in" in capsys.readouterr().out

    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: no prompt, no solution
    assert cli.main(["workshop", "solution", "6"]) == 1
    assert "def retry_delay" not in capsys.readouterr().out
    assert cli.main(["workshop", "solution", "6", "--yes"]) == 0
    assert "def retry_delay" in capsys.readouterr().out


def test_the_coach_and_the_tests_find_the_learners_file_through_the_config(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A solution file renamed in `.meta/config.json` is the one listed, checked and tested."""
    exercise = checkout / "06-retry-delay"
    path = exercise / ".meta" / "config.json"
    cfg = json.loads(path.read_text())
    cfg["files"]["solution"] = ["my_retry.py"]
    path.write_text(json.dumps(cfg))
    (exercise / "retry.py").rename(exercise / "my_retry.py")
    shutil.copy(exercise / ".meta" / "exemplar.py", exercise / "my_retry.py")

    assert cli.main(["workshop", "list"]) == 0
    assert "exercises/06-retry-delay/my_retry.py" in capsys.readouterr().out
    assert cli.main(["workshop", "check", "6"]) == 0
    assert "all 5 tasks pass" in capsys.readouterr().out
    # Plain pytest, from the folder: exercises/pytest.ini loads the plugin, no conftest needed.
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "06-retry-delay"],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and "16 passed" in proc.stdout, proc.stdout + proc.stderr


@pytest.fixture
def every_exemplar(checkout: Path) -> list[coach.Exercise]:
    """The learner's copy of every exercise, each answered by its exemplar."""
    for e in EXERCISES:
        if not (checkout / e.path.name).exists():
            shutil.copytree(e.path, checkout / e.path.name)
    chosen = coach.exercises(checkout)
    for e in chosen:
        shutil.copy(e.exemplar, e.answer)
    return chosen


def test_check_all_is_all_green_with_every_exemplar(
    every_exemplar: list[coach.Exercise], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["workshop", "check", "--all"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert out.count("passing: all") == len(EXERCISES), out


def test_every_exemplar_passes_in_another_order(every_exemplar: list[coach.Exercise]) -> None:
    """The order `check --all` runs them in is no part of the result."""
    for e, (results, proc) in coach.run_each(every_exemplar[::-1]):
        assert results and not coach.first_failure(results), (e.path.name, proc.stdout[-2000:])


def test_what_one_answer_leaves_in_its_process_cannot_reach_the_next(
    every_exemplar: list[coach.Exercise],
) -> None:
    """A learner's 07 that sets a tracer provider of its own (OpenTelemetry's is set once per
    process) passes 07; an exercise run after it in the same process would record no spans."""
    by_number = {e.number: e for e in every_exemplar}
    spans_answer = by_number[7].answer
    spans_answer.write_text(
        spans_answer.read_text()
        + "\nfrom opentelemetry import trace as _trace\n"
        + "from opentelemetry.sdk.trace import TracerProvider as _Provider\n\n"
        + "_trace.set_tracer_provider(_Provider())\n"
    )
    for e, (results, proc) in coach.run_each([by_number[7], by_number[2]], workers=1):
        assert results and not coach.first_failure(results), (e.path.name, proc.stdout[-2000:])


def test_every_expected_shape_fits_80_columns_as_the_coach_shows_it() -> None:
    """`marathon workshop check` prints `.meta/shape.txt` indented by two spaces."""
    for shape in sorted(ROOT.glob("exercises/*/.meta/shape.txt")):
        widest = max(len(line) for line in shape.read_text().splitlines())
        assert widest <= 78, f"{shape.parent.parent.name}: {widest} columns"
