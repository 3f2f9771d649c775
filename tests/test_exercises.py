"""The workshop exercises, proven both ways (exercism's bin/test_exercises.py): each exemplar,
copied over its stub, passes its tests; each stub fails them, with a message that coaches."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
EXERCISES = sorted(p for p in (ROOT / "exercises").iterdir() if (p / ".meta").is_dir())


def _stub(exercise: Path) -> Path:
    [stub] = [p for p in exercise.glob("*.py") if not p.name.startswith("test_")]
    return stub


def _pytest(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-c",
            str(ROOT / "pyproject.toml"),
            "--rootdir",
            str(folder.parent),
            str(folder),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _copy(tmp_path: Path, exercise: Path) -> Path:
    shutil.copytree(ROOT / "exercises", tmp_path / "exercises")
    return tmp_path / "exercises" / exercise.name


def test_there_are_exercises() -> None:
    assert [e.name for e in EXERCISES] == ["01-wait-until", "02-retry-delay"]


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda p: p.name)
def test_the_exemplar_passes(exercise: Path, tmp_path: Path) -> None:
    work = _copy(tmp_path, exercise)
    shutil.copy(work / ".meta" / "exemplar.py", _stub(work))
    r = _pytest(work)
    assert r.returncode == 0, r.stdout[-3000:]


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda p: p.name)
def test_the_stub_fails_and_says_why(exercise: Path, tmp_path: Path) -> None:
    r = _pytest(_copy(tmp_path, exercise))
    assert r.returncode == 1, r.stdout[-3000:]
    assert "expected" in r.stdout or "NotImplementedError: exercise" in r.stdout
