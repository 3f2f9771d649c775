"""The documentation site builds strictly (broken links, missing pages and unknown directives
fail), and what it shows is generated from the code: quoted source, knobs, commands, routes,
scenarios and waterfalls."""

from __future__ import annotations

import inspect
import json
import os
import re
from html import unescape
from pathlib import Path

import pytest
import yaml
from mkdocs.commands.build import build
from mkdocs.config import load_config

from marathon import knobs, strategies
from marathon.outcomes import VERDICTS
from marathon.scenarios import SCENARIOS
from tools import docs_site

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    config = load_config(str(ROOT / "mkdocs.yml"), site_dir=str(out), strict=True)
    build(config)  # strict: raises Abort on any warning (a broken link, a page not in nav, ...)
    return out


def _page(site: Path, path: str) -> str:
    return (site / path / "index.html").read_text()


def test_every_page_is_on_the_site(site: Path) -> None:
    for md in sorted((ROOT / "docs").rglob("*.md")):
        rel = md.relative_to(ROOT / "docs").with_suffix("")
        page = rel.parent / "index.html" if rel.name == "index" else rel / "index.html"
        assert (site / page).is_file(), f"docs/{rel}.md is missing from the site"


def _nav_sections() -> dict[str, set[str]]:
    """mkdocs.yml's nav: each top-level section and the pages under it, at any depth."""
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]

    def pages(node: object) -> set[str]:
        if isinstance(node, str):
            return {node}
        if isinstance(node, list):
            return set().union(*(pages(n) for n in node))
        if isinstance(node, dict):
            return set().union(*(pages(v) for v in node.values()))
        return set()

    return {name: pages(value) for item in nav for name, value in item.items()}


def test_the_home_page_is_true_to_the_nav() -> None:
    """docs/index.md lists every page under the heading of the nav section that holds it, and
    calls nothing "reference" that the nav files elsewhere."""
    text = (ROOT / "docs" / "index.md").read_text()
    listed: dict[str, set[str]] = {}
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        heading, _, body = section.partition("\n")
        # links into docs/ only: the exercises live beside the docs, outside the site's nav
        listed[heading.strip()] = set(re.findall(r"\]\(((?!\.\./)[\w/.-]+\.md)", body))
    nav = _nav_sections()
    nav.pop("Home")
    assert set(listed) == set(nav)
    for heading, pages in nav.items():
        assert listed[heading] == pages, heading
    every = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert set().union(*nav.values()) | {"index.md"} == every, "a page outside the nav"


def test_the_ordering_pages_quote_the_real_code(site: Path) -> None:
    for name, fn in strategies.STRATEGIES.items():
        html = _page(site, f"learn/{name}")
        # highlighted code is split into spans; compare the text with the tags taken out
        text = re.sub(r"<[^>]+>", "", html).replace("&quot;", '"').replace("&gt;", ">")
        first_line = inspect.getsource(fn).splitlines()[0]
        assert first_line in text, f"learn/{name}.md does not show {fn.__name__}"
        assert f"../../waterfalls/{name}.svg" in html


@pytest.mark.parametrize("path", sorted((ROOT / "docs" / "traces").glob("*.json")), ids=str)
def test_saved_traces_are_files_jaeger_ui_uploads(path: Path) -> None:
    """`{"data": [trace, ...]}`, each trace one trace id with its own processes; a queued
    registration's attempt trace references the request span (FOLLOWS_FROM)."""
    traces = json.loads(path.read_text())["data"]
    spans = {s["spanID"]: t["traceID"] for t in traces for s in t["spans"]}
    for trace in traces:
        assert {s["traceID"] for s in trace["spans"]} == {trace["traceID"]}
        assert {s["processID"] for s in trace["spans"]} <= set(trace["processes"])
    follows = [
        r
        for t in traces
        for s in t["spans"]
        for r in s.get("references") or []
        if r["refType"] == "FOLLOWS_FROM"
    ]
    assert len(traces) == (2 if path.stem == "queued" else 1)
    assert all(spans[r["spanID"]] == r["traceID"] != traces[1]["traceID"] for r in follows)
    assert bool(follows) == (path.stem == "queued")
    assert docs_site.saved_trace(path.stem).strategy == path.stem


def test_waterfalls_are_drawn_by_the_projects_view(site: Path) -> None:
    svg = (site / "waterfalls" / "wait-until.svg").read_text()
    assert svg.startswith("<svg") and 'class="resp"' in svg
    assert "send confirmation" in svg
    queued = (site / "waterfalls" / "queued.svg").read_text()
    assert "↪ confirmation attempt" in queued, "the attempt trace is merged in through its link"


def test_start_shows_the_terminal_view_of_the_saved_traces(site: Path) -> None:
    html = _page(site, "start")
    assert "response sent at" in html and "the user waited for it" in html
    # Drawn at the width of the site's column: every span's row, its ms column included, shows
    # without scrolling the block sideways.
    block = next(b for b in re.findall(r"<pre.*?</pre>", html, re.S) if "response sent at" in b)
    text = unescape(re.sub(r"<[^>]+>", "", block))
    lines = text.splitlines()
    rows = [line for line in lines if "│" in line and line.rstrip(" ↷✗⊘❄∅").endswith(" ms")]
    assert len(rows) > 20, "the five waterfalls' rows"
    assert max(len(r) for r in rows) <= 80, max(rows, key=len)


def test_the_reference_is_generated_from_the_code(site: Path) -> None:
    text = _page(site, "configuration")
    for k in knobs.describe():
        assert k["env"] in text and k["name"] in text
        row = re.search(rf"<tr>\s*<td><code>{k['name']}</code>.*?</tr>", text, flags=re.S)
        assert row, k["name"]
        assert ("no: shared" in row.group(0)) == (k["scope"] == "shared"), k["name"]
    text = _page(site, "learn/scenarios")
    assert all(name in text for name in SCENARIOS)
    assert all(f"<code>{key}</code>" in text for key in VERDICTS)
    text = _page(site, "commands")
    assert "usage: marathon compare" in text and "usage: marathon serve" in text
    text = _page(site, "api")
    assert "POST /api/marathon/wait-until" in text and "GET /api/traces/{trace_id}" in text
    assert "POST /emails" in _page(site, "sandbox")  # the sandbox's routes, on its own page


def test_screenshots_are_shown(site: Path) -> None:
    html = _page(site, "start")
    for shot in re.findall(r'src="\.\./screenshots/([\w-]+\.png)"', html):
        assert (site / "screenshots" / shot).stat().st_size > 5_000
    assert "compare-all.png" in html


def test_an_unknown_directive_stops_the_build() -> None:
    with pytest.raises(ValueError, match="unknown directive"):
        docs_site.expand("<!-- marathon:nonsense -->\n", "x.md")
    with pytest.raises(ValueError, match="no docs/traces"):
        docs_site.expand("<!-- marathon:waterfall nonsense -->\n", "x.md")


def test_links_out_of_docs_become_repository_paths() -> None:
    text = docs_site.outside_links("see [the exercises](../exercises/README.md).", "index.md")
    assert text == "see the exercises (`exercises/README.md` in the repository)."
    kept = "[queue](../queue.md) [x](https://example.org/a)"
    assert docs_site.outside_links(kept, "learn/queued.md") == kept


def test_a_newer_screenshot_from_the_browser_tests_replaces_the_committed_one(
    tmp_path: Path,
) -> None:
    committed = ROOT / "docs" / "screenshots" / "compare-all.png"
    fresh = tmp_path / "compare-all.png"
    fresh.write_bytes(b"a newer screenshot")
    assert docs_site.screenshot_source(committed, tmp_path) == fresh
    page = ROOT / "docs" / "screenshots" / "page.png"
    assert docs_site.screenshot_source(page, tmp_path) == page  # no artifact: the committed one
    old = committed.stat().st_mtime - 60
    os.utime(fresh, (old, old))  # an artifact older than the committed copy is ignored
    assert docs_site.screenshot_source(committed, tmp_path) == committed


def _rows(table: str) -> list[tuple[int, int]]:
    """(start minute, minutes) of each agenda row: `| 1:05 | 15 | ...`."""
    found = re.findall(r"^\| (\d+):(\d\d) \| (\d+) \|", table, flags=re.M)
    return [(int(h) * 60 + int(m), int(n)) for h, m, n in found]


def _section(text: str, heading: str) -> str:
    return text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]


def test_the_agenda_adds_up() -> None:
    """90 minutes, the 45-minute cut and the exercises session: each row starts where the one
    before ended; the lesson rows are the Learn pages' own minutes."""
    text = (ROOT / "docs" / "instructor" / "agenda.md").read_text()
    for heading, total in (
        ("## 90 minutes", 90),
        ("## The 45-minute cut", 45),
        ("## A second session: the exercises", 90),
    ):
        rows = _rows(_section(text, heading))
        starts = [sum(n for _, n in rows[:i]) for i in range(len(rows))]
        assert [start for start, _ in rows] == starts, f"{heading}: a row starts at the wrong time"
        assert sum(n for _, n in rows) == total, heading
    learn = 0
    for page in sorted((ROOT / "docs" / "learn").glob("*.md")):
        front = re.match(r"---\nteaching: (\d+)\nexercises: (\d+)\n---\n", page.read_text())
        learn += int(front.group(1)) + int(front.group(2)) if front else 0
    setup_break_compare_wrap = 10 + 5 + 5 + 5
    assert learn == 90 - setup_break_compare_wrap, "the Learn pages' minutes no longer fit"


def test_the_agenda_names_what_exists() -> None:
    """The lesson steps, exercises and notebooks the agenda names are the real ones."""
    from marathon.views import lesson_steps

    text = (ROOT / "docs" / "instructor" / "agenda.md").read_text()
    for n in re.findall(r"/lesson/(\d+)", text):
        lesson_steps.step(int(n))  # IndexError for a step that does not exist
    for n, title in re.findall(r"[Ss]teps? (\d), \*([^*]+)\*", text):
        assert lesson_steps.step(int(n)).title == title, f"step {n} is not {title!r}"
    names = set(re.findall(r"`(?:exercises/)?(0\d-[a-z-]+)`", text))
    exercises = {p.name for p in (ROOT / "exercises").glob("0*") if p.is_dir()}
    notebooks = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert names <= exercises | notebooks, (
        f"no such exercise or notebook: {names - exercises - notebooks}"
    )
    assert exercises <= names and notebooks <= names, "every exercise and notebook has its place"
