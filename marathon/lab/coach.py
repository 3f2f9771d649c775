"""`marathon workshop`: the exercises' coach.

- `list`: every exercise and its status (not started, failing, passing), kept in
  `MARATHON_DATA_DIR/workshop.json`;
- `check N`: runs exercise N's tests on your file and shows the first failing task only, its
  coaching message, your waterfall and the shape the tests expect (`--all`: one line each);
- `hint N`: the next hint (`.meta/hints.md`, one `## Hint` section at a time);
- `reset N`: your file back to the stub (`.meta/stub.py`; your version is kept as a backup);
- `solution N`: the reference solution, after a confirmation (`--yes` for scripts).

Each exercise's `.meta/config.json` names its title and files (`marathon.lab.exercises.config`).
The tests run in a pytest subprocess (the harness, `marathon.lab.exercises`, writes a JSON report)
with its own embedded PostgreSQL, or the one in `MARATHON_EXERCISE_DATABASE_URL`. `check --all`
runs each exercise in a process of its own (what one answer leaves in a process, a tracer
provider, a patched module, a running task, cannot reach the next exercise), two at a time,
sharing one PostgreSQL.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marathon.lab.exercises import config as exercise_config
from marathon.service.settings import Settings
from marathon.views import terminal, waterfall

__all__ = ["Exercise", "add_parser", "exercises", "main", "run_each", "run_tests"]


@dataclass(frozen=True)
class Exercise:
    path: Path

    @property
    def number(self) -> int:
        return int(self.path.name.split("-", 1)[0])

    @property
    def config(self) -> exercise_config.Config:
        return exercise_config.read(self.path)

    @property
    def title(self) -> str:
        return self.config.title

    @property
    def answer(self) -> Path:
        """The learner's file, as `.meta/config.json` names it (`files.solution`)."""
        return self.config.solution

    @property
    def stub(self) -> Path:
        return self.config.one("stub")

    @property
    def exemplar(self) -> Path:
        return self.config.one("exemplar")

    @property
    def meta(self) -> Path:
        return self.path / ".meta"

    def wrong_answers(self) -> list[Path]:
        return sorted((self.meta / "wrong").glob("*.py"))


def exercises_root() -> Path:
    """`./exercises` when run from a checkout, else the one next to the package."""
    here = Path.cwd() / "exercises"
    return here if here.is_dir() else Path(__file__).resolve().parent.parent / "exercises"


def exercises(root: Path | None = None) -> list[Exercise]:
    root = root or exercises_root()
    return [Exercise(p) for p in sorted(root.iterdir()) if (p / ".meta").is_dir()]


def find(number: int, root: Path | None = None) -> Exercise:
    for exercise in exercises(root):
        if exercise.number == number:
            return exercise
    raise SystemExit(f"no exercise {number}: see `marathon workshop list`")


# ---------------------------------------------------------------- running the tests


def run_tests(
    folders: Sequence[Path],
    answers: Sequence[Path] = (),
    *,
    extra: Sequence[str] = (),
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> tuple[list[dict[str, Any]], subprocess.CompletedProcess[str]]:
    """Run exercises' tests in one pytest process; returns each test's result (task order)."""
    root = folders[0].parent
    with tempfile.TemporaryDirectory(prefix="marathon-workshop-") as tmp:
        report = Path(tmp) / "report.json"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            str(root / "pytest.ini"),
            "--rootdir",
            str(root),
            # Our own temporary folder: others' pytest runs prune the shared default one.
            "--basetemp",
            str(Path(tmp) / "pytest"),
            "--report",
            str(report),
            *(f"--answer={a}" for a in answers),
            *extra,
            *map(str, folders),
        ]
        pythonpath = os.pathsep.join(filter(None, [str(root.parent), os.environ.get("PYTHONPATH")]))
        proc = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PYTHONPATH": pythonpath, **(env or {})},
        )
        results: list[dict[str, Any]] = json.loads(report.read_text()) if report.exists() else []
    return results, proc


DATABASE_VARIABLE = "MARATHON_EXERCISE_DATABASE_URL"


@contextlib.contextmanager
def shared_database() -> Iterator[dict[str, str]]:
    """The environment that points several test processes at one PostgreSQL: the one in
    `MARATHON_EXERCISE_DATABASE_URL`, or an embedded one for as long as they run."""
    if os.environ.get(DATABASE_VARIABLE):
        yield {}
        return
    from marathon.local import postgres

    log = logging.getLogger(postgres.__name__)
    level = log.level
    log.setLevel(logging.WARNING)  # its "running" and "stopped": the coach's lines say enough
    try:
        with (
            tempfile.TemporaryDirectory(prefix="marathon-workshop-pg-") as tmp,
            postgres.embedded_server(Path(tmp) / "data", ephemeral=True) as url,
        ):
            yield {DATABASE_VARIABLE: url}
    finally:
        log.setLevel(level)


Run = tuple[list[dict[str, Any]], subprocess.CompletedProcess[str]]


def run_each(
    chosen: Sequence[Exercise], *, extra: Sequence[str] = (), workers: int = 2
) -> Iterator[tuple[Exercise, Run]]:
    """Each exercise's tests in a pytest process of its own, `workers` at a time, one shared
    PostgreSQL; yields each exercise's run in the order given, as soon as it is known."""
    with (
        shared_database() as env,
        ThreadPoolExecutor(max_workers=max(1, min(workers, len(chosen)))) as pool,
    ):
        runs = pool.map(lambda e: run_tests([e.path], extra=extra, env=env), chosen)
        yield from zip(chosen, runs, strict=True)


def first_failure(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((r for r in results if r["outcome"] == "failed"), None)


def tasks(results: list[dict[str, Any]]) -> int:
    return len({r["task"] for r in results})


# ---------------------------------------------------------------- progress, kept locally


def _progress_file() -> Path:
    return Settings.from_env().data_dir / "workshop.json"


def load_progress() -> dict[str, dict[str, Any]]:
    path = _progress_file()
    return json.loads(path.read_text()) if path.exists() else {}


def save_progress(name: str, **fields: Any) -> None:
    progress = load_progress()
    progress[name] = {**progress.get(name, {}), **fields}
    path = _progress_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(progress, indent=1, sort_keys=True))


def status(exercise: Exercise, progress: dict[str, dict[str, Any]]) -> str:
    return str(progress.get(exercise.path.name, {}).get("status", "not started"))


# ---------------------------------------------------------------- the commands


def list_(args: argparse.Namespace) -> int:
    progress = load_progress()
    for e in exercises():
        where = e.answer.relative_to(e.path.parent.parent)
        print(f"  {e.number:>2}  {e.title:<38} {status(e, progress):<12} {where}")
    print("\nNext: `marathon workshop check N` runs exercise N's tests on your file.")
    return 0


def _wrap(text: str, indent: str = "  ") -> str:
    width = min(terminal.columns(), 100) - 1  # prose: short lines read better
    return textwrap.fill(text, width, initial_indent=indent, subsequent_indent=indent)


def untouched(e: Exercise) -> bool:
    return e.answer.read_text() == e.stub.read_text()


def _status_of(e: Exercise, results: list[dict[str, Any]]) -> str:
    if first_failure(results) is None:
        return "passing"
    return "not started" if untouched(e) else "failing"


def _summary_line(e: Exercise, results: list[dict[str, Any]]) -> str:
    head = f"{e.number:02d} {e.title:<38}"
    failed = first_failure(results)
    if not results:
        return f"{head} did not run (add --verbose to see why)"
    if failed is None:
        return f"{head} passing: all {tasks(results)} tasks"
    if untouched(e):
        return f"{head} not started"
    why = textwrap.shorten(failed["message"] or "", 56, placeholder=" …")
    return f"{head} failing at task {failed['task']} of {tasks(results)}: {why}"


def _env(args: argparse.Namespace) -> list[str]:
    return ["--tb=long", "-rA"] if args.tracebacks else []


def check(args: argparse.Namespace) -> int:
    if args.all or args.number is None:
        failing = 0
        workers = min(4, os.cpu_count() or 1)
        for e, (mine, proc) in run_each(exercises(), extra=_env(args), workers=workers):
            if args.tracebacks or not mine:
                print(proc.stdout + (proc.stderr[-3000:] if not mine else ""))
            failing += first_failure(mine) is not None or not mine
            if mine:
                save_progress(e.path.name, status=_status_of(e, mine))
            print(_summary_line(e, mine), flush=True)
        return 1 if failing else 0
    e = find(args.number)
    results, proc = run_tests([e.path], extra=_env(args))
    if args.tracebacks or not results:
        print(proc.stdout + (proc.stderr if not results else ""))
        if not results:
            return 2
    failed = first_failure(results)
    save_progress(e.path.name, status=_status_of(e, results))
    if failed is None:
        print(f"Exercise {e.number} · {e.title}: all {tasks(results)} tasks pass. Well done!")
        following = [x for x in exercises() if x.number > e.number]
        if following:
            print(f"Next: exercise {following[0].number}, {following[0].title}.")
        return 0
    which = failed["test"].split("[")[0].removeprefix("test_").replace("_", " ")
    heading = f"Exercise {e.number} · {e.title}: task {failed['task']} of {tasks(results)} fails"
    print(textwrap.fill(f"{heading} ({which}).", terminal.columns() - 1) + "\n")
    print(_wrap(failed["message"] or "The test failed without a message."))
    if failed["trace"]:
        [w] = waterfall.parse(failed["trace"])
        print("\nYour waterfall (the request this task made):\n")
        print(textwrap.indent(terminal.text([w], width=terminal.columns() - 2), "  "), end="")
    shape = e.meta / "shape.txt"
    if shape.exists():
        print("\nThe shape the tests expect:\n")
        print(textwrap.indent(shape.read_text(), "  "), end="")
    print(f"\nStuck? `marathon workshop hint {e.number}`. Tracebacks: add --verbose.")
    return 1


def hints_of(e: Exercise) -> list[str]:
    text = (e.meta / "hints.md").read_text()
    return [h.strip() for h in re.split(r"^## .*$", text, flags=re.M)[1:]]


def hint(args: argparse.Namespace) -> int:
    e = find(args.number)
    hints = hints_of(e)
    shown = int(load_progress().get(e.path.name, {}).get("hints", 0))
    n = min(shown + 1, len(hints))
    save_progress(e.path.name, hints=n)
    print(f"Hint {n} of {len(hints)} for exercise {e.number} · {e.title}:\n")
    print(_wrap(hints[n - 1]))
    if n == len(hints):
        print(f"\nThat was the last hint. `marathon workshop solution {e.number}` shows an answer.")
    return 0


def reset(args: argparse.Namespace) -> int:
    e = find(args.number)
    if e.answer.exists() and e.answer.read_text() != e.stub.read_text():
        backup = (
            Settings.from_env().data_dir / "workshop-backups" / f"{e.path.name}-{e.answer.name}"
        )
        backup.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(e.answer, backup)
        print(f"Your version is saved in {backup}")
    shutil.copy(e.stub, e.answer)
    save_progress(e.path.name, status="not started", hints=0)
    print(f"Exercise {e.number}: {e.answer.name} is the stub again.")
    return 0


def solution(args: argparse.Namespace) -> int:
    e = find(args.number)
    if not args.yes:
        if not sys.stdin.isatty():
            print("Not shown: confirm with --yes (solutions are shown on request only).")
            return 1
        reply = input(f"Show a solution to exercise {e.number}? Hints first help more. [y/N] ")
        if reply.strip().lower() not in ("y", "yes"):
            print(f"Not shown. `marathon workshop hint {e.number}` gives the next hint.")
            return 0
    print(e.exemplar.read_text(), end="")
    return 0


COMMANDS = {"list": list_, "check": check, "hint": hint, "reset": reset, "solution": solution}


def main(args: argparse.Namespace) -> int:
    return COMMANDS[args.workshop_command](args)


def add_parser(sub: Any, formatter: Any) -> None:
    """The `marathon workshop` subcommand and its own subcommands."""
    ws = sub.add_parser(
        "workshop",
        help="the exercises' coach: list, check, hint, reset, solution",
        description="Work through exercises/ (the README of each says the task). `check N` runs "
        "exercise N's tests on your file and shows the first failing task, its coaching "
        "message and your waterfall.",
        formatter_class=formatter,
    )
    cmds = ws.add_subparsers(dest="workshop_command", required=True, metavar="COMMAND")
    cmds.add_parser("list", help="every exercise and its status (not started, failing, passing)")
    c = cmds.add_parser("check", help="run exercise N's tests on your file")
    c.add_argument("number", type=int, nargs="?", metavar="N", help="the exercise (default: all)")
    c.add_argument("--all", action="store_true", help="every exercise, one line each")
    c.add_argument(
        "--verbose", dest="tracebacks", action="store_true", help="also show pytest's tracebacks"
    )
    for name, what in (
        ("hint", "the next hint for exercise N"),
        ("reset", "put the stub back in exercise N (your version is backed up)"),
        ("solution", "show a solution to exercise N, after a confirmation"),
    ):
        p = cmds.add_parser(name, help=what)
        p.add_argument("number", type=int, metavar="N", help="the exercise")
        if name == "solution":
            p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
