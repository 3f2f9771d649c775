"""Rewrite README.md's thesis table from `marathon.strategies.LESSONS`: `python -m tools.thesis`.

The docs generate the same table at build time (`<!-- marathon:thesis -->`); the README, read on
GitHub, keeps a copy between its marker comments, which `tests/test_thesis.py` keeps equal.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tools.docs_site import thesis_table

__all__ = ["README", "readme_table", "with_table"]

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- thesis:start -->", "<!-- thesis:end -->"
BLOCK = re.compile(rf"{re.escape(START)}\n(.*?)\n?{re.escape(END)}", flags=re.S)


def readme_table(text: str) -> str | None:
    """The table between the README's markers (None without them)."""
    m = BLOCK.search(text)
    return m.group(1) if m else None


def with_table(text: str) -> str:
    """The README with the table between its markers regenerated."""
    if readme_table(text) is None:
        raise ValueError(f"README.md has no {START} ... {END} block")
    return BLOCK.sub(lambda _: f"{START}\n{thesis_table()}\n{END}", text, count=1)


def main() -> int:
    text = README.read_text()
    new = with_table(text)
    if new != text:
        README.write_text(new)
        print("README.md: thesis table rewritten from LESSONS")
    else:
        print("README.md: thesis table already equal to LESSONS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
