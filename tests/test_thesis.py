"""One thesis table (strategy, ordering, answers, the user waits for, can lose), from `LESSONS`:
its words match the code, the docs generate it, and the README's copy stays equal to it."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from marathon import strategies
from marathon.routes.registrations import SUCCESS_STATUS
from marathon.strategies import ACCEPTED, CREATED, LESSONS, STRATEGIES
from tools import docs_site, thesis

ROOT = Path(__file__).parent.parent
REGENERATE = "run `python -m tools.thesis` to rewrite it from marathon/strategies.py's LESSONS"

# A phrase of the ordering column, and the code that must be in the strategy iff it is there.
PHRASES = {
    "await insert": "await work.store(runner)\n",  # on its own, not in a transaction
    "await email": "await work.confirm(",
    "create_task(email)": "asyncio.create_task(work.confirm(",
    "wait_until(email)": "work.wait_until(work.confirm(",
    "wait_until(insert, email)": "work.wait_until(work.store(runner), work.confirm(",
    "one transaction": "work.transaction()",
    "enqueue": "await work.enqueue(",
}


def test_every_strategy_has_one_lesson() -> None:
    assert list(LESSONS) == list(STRATEGIES)


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_the_ordering_says_what_the_code_does(name: str) -> None:
    source = inspect.getsource(STRATEGIES[name])
    ordering = LESSONS[name].ordering
    for phrase, code in PHRASES.items():
        assert (phrase in ordering) == (code in source), f"{name}: {phrase!r} vs {code!r}"
    answers = ACCEPTED if "return ACCEPTED" in source else CREATED
    assert SUCCESS_STATUS.get(name, CREATED) == answers, name
    waits = LESSONS[name].waits_for
    assert (waits == "nothing") == ("await" not in source.split(":", 1)[1]), name


def test_the_readmes_copy_is_the_generated_table() -> None:
    copy = thesis.readme_table(thesis.README.read_text())
    assert copy is not None, f"README.md lost its {thesis.START} ... {thesis.END} markers"
    assert copy == docs_site.thesis_table(), f"README.md's thesis table differs: {REGENERATE}"


def test_the_regenerator_rewrites_only_the_block() -> None:
    stale = f"intro\n{thesis.START}\n| old |\n{thesis.END}\nrest\n"
    fresh = thesis.with_table(stale)
    assert fresh == f"intro\n{thesis.START}\n{docs_site.thesis_table()}\n{thesis.END}\nrest\n"
    assert thesis.with_table(fresh) == fresh
    with pytest.raises(ValueError, match="no <!-- thesis:start -->"):
        thesis.with_table("no markers")


@pytest.mark.parametrize("page", ["learn/index.md", "learn/strategies.md"])
def test_the_docs_generate_the_table(page: str) -> None:
    text = (ROOT / "docs" / page).read_text()
    assert "<!-- marathon:thesis -->" in text, f"docs/{page} lost its thesis table"
    expanded = docs_site.expand(text, page)
    for lesson in LESSONS.values():
        assert lesson.can_lose in expanded


def test_no_page_keeps_a_hand_written_copy() -> None:
    header = re.compile(r"^\|.*\| the user waits for \|", flags=re.M)
    copies = [
        str(p.relative_to(ROOT))
        for p in sorted((ROOT / "docs").rglob("*.md"))
        if header.search(p.read_text())
    ]
    assert not copies, f"write <!-- marathon:thesis --> instead of a copy in {copies}"


def test_the_readme_says_how_long_the_lesson_is() -> None:
    readme = thesis.README.read_text()
    first_screen = "\n".join(readme.splitlines()[:15])
    m = re.search(r"\[the lesson, in (\d+) lines\]\(marathon/strategies\.py\)", first_screen)
    assert m, "the README's first screen links marathon/strategies.py as the lesson"
    lines = len(Path(inspect.getfile(strategies)).read_text().splitlines())
    assert int(m.group(1)) == lines, f"README.md says {m.group(1)} lines; strategies.py has {lines}"
