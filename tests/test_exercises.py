"""The workshop exercises, proven in both directions and against known-wrong answers (like
exercism's bin/test_exercises.py): every exemplar passes its tests; every stub fails them; every
answer in `.meta/wrong/` fails with the coaching message meant for its mistake (the `expect:`
line of its docstring), and every message is short: one line, no span reprs, no nanoseconds.

One pytest subprocess per exercise runs all its answers (`--answer`, repeatable) and shares this
session's embedded PostgreSQL (`MARATHON_EXERCISE_DATABASE_URL`)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from marathon import workshop

ROOT = Path(__file__).parent.parent
EXERCISES = workshop.exercises(ROOT / "exercises")


def expected_message(wrong: Path) -> str:
    doc = ast.get_docstring(ast.parse(wrong.read_text())) or ""
    found = re.search(r"^expect: (.+)$", doc, flags=re.M)
    assert found, f"{wrong}: its docstring needs an `expect: <message fragment>` line"
    return found.group(1).strip()


def test_there_are_eight_exercises_in_order() -> None:
    assert [e.number for e in EXERCISES] == list(range(1, 9))


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.path.name)
def test_each_exercise_has_what_the_coach_needs(exercise: workshop.Exercise) -> None:
    meta = exercise.meta
    assert (exercise.path / "README.md").exists() and (meta / "exemplar.py").exists()
    assert (meta / "stub.py").exists(), "`marathon workshop reset` restores .meta/stub.py"
    assert len(workshop.hints_of(exercise)) >= 2, "progressive hints: two at least"
    assert len(exercise.wrong_answers()) >= 2, "two known-wrong answers at least"
    for wrong in exercise.wrong_answers():
        expected_message(wrong)


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.path.name)
def test_the_answers_are_told_apart(
    exercise: workshop.Exercise, pg_url: str, tmp_path: Path
) -> None:
    exemplar, stub = exercise.meta / "exemplar.py", exercise.meta / "stub.py"
    wrongs = exercise.wrong_answers()
    results, proc = workshop.run_tests(
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
    assert workshop.first_failure(of(stub)), "the untouched stub passed its tests"
    for wrong in wrongs:
        failed = workshop.first_failure(of(wrong))
        assert failed, f"{wrong.name} passed every task"
        message = str(failed["message"])
        assert expected_message(wrong) in message, f"{wrong.name}: {message}"
    for r in results:
        message = str(r["message"] or "")
        assert "\n" not in message and len(message) < 500, message
        assert not re.search(r"\d{9,}|ReadableSpan|_Span\(|0x[0-9a-f]{6,}", message), message
