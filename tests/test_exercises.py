"""The workshop exercises, proven in both directions and against known-wrong answers (like
exercism's bin/test_exercises.py): every exemplar passes its tests; every stub fails them; every
answer in `.meta/wrong/` fails with the coaching message meant for its mistake (the `expect:`
line of its docstring), and every message is short: one line, no span reprs, no nanoseconds.

One pytest subprocess per exercise runs all its answers (`--answer`, repeatable) and shares this
session's embedded PostgreSQL (`MARATHON_EXERCISE_DATABASE_URL`)."""

from __future__ import annotations

import ast
import io
import re
import shutil
from pathlib import Path

import pytest

from marathon import cli
from marathon.lab import coach

ROOT = Path(__file__).parent.parent
EXERCISES = coach.exercises(ROOT / "exercises")


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
    for name in ("conftest.py", "pytest.ini", "02-wait-until", "06-retry-delay"):
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
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the project's tests/conftest helpers
    return tmp_path / "exercises"


def test_check_coaches_with_the_first_failing_task_and_the_waterfall(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exercise = checkout / "02-wait-until"
    shutil.copy(exercise / ".meta" / "wrong" / "uncalled.py", exercise / "strategy.py")
    assert cli.main(["workshop", "check", "2"]) == 1
    out = capsys.readouterr().out
    assert "task 1 of 4 fails" in out
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
