"""Terminal output stays readable on an 80- or 100-column terminal (a laptop split in two, a
projector at a large font) and uses the room on a 160-column one: whole words, never "cl… wa…",
the legend wrapped rather than cut."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console, RenderableType

from marathon.lab import compare
from marathon.lab.measure import Measurement
from marathon.lab.scenario_runner import verdict
from marathon.views import terminal, waterfall
from marathon.views.waterfall import legend_items

WIDTHS = [80, 100, 160]

FIXTURE = Path(__file__).parent / "fixtures" / "jaeger-trace.json"
OUTAGE = "POST /emails: 503 Service Unavailable: the email API is down (outage)"


@pytest.fixture
def comparison() -> compare.Comparison:
    [trace] = json.loads(FIXTURE.read_text())["data"]
    m = Measurement
    runs = {
        "sequential": [
            m("sequential", 502, 812.0, "r1", "a" * 32, 800.0, 800.0, True, False, OUTAGE)
        ],
        "fire-and-forget": [
            m(
                "fire-and-forget",
                201,
                93.0,
                "r2",
                "b" * 32,
                90.0,
                1395.0,
                True,
                False,
                "send confirmation: cancelled at shutdown",
                trace=trace,
            )
        ],
        "concurrent": [m("concurrent", 202, 31.0, "r3", "c" * 32, 2.0, None, False, True)],
        "wait-until": [m("wait-until", 201, 94.0, "r4", "d" * 32, 74.0, 763.0, True, True)],
        "queued": [m("queued", 202, 12_345.0, "r5", "e" * 32, 87.0, 1154.0, True, True)],
    }
    c = compare.Comparison("http://127.0.0.1:8000", "email_latency_ms=800", runs)
    c.verdicts = {s: verdict(r[0]) for s, r in runs.items()}
    return c


def _print(renderable: RenderableType, width: int) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return out.getvalue()


def _words(text: str) -> set[str]:
    return set(re.findall(r"[^\s│┃|]+", text))


@pytest.mark.parametrize("width", WIDTHS)
def test_the_outcome_table_and_verdicts_keep_whole_words(
    comparison: compare.Comparison, width: int
) -> None:
    out = _print(compare.table(comparison, width=width), width)
    out += _print(compare.verdicts(comparison), width)
    assert max(len(line) for line in out.splitlines()) <= width
    assert "…" not in out, out
    words = _words(out)
    needed = ["client", "waited", "row", "stored", "email", "sent", "error", "never", "NO"]
    needed += ["12,345", "fire-and-forget", *OUTAGE.split()]
    for v in comparison.verdicts.values():
        needed += v.split()
    missing = [w for w in needed if w not in words]
    assert missing == [], f"words cut at {width} columns: {missing}\n{out}"
    assert ("server" in words) is (width >= 120), "the server span goes first when narrow"


@pytest.mark.parametrize("width", WIDTHS)
def test_the_whole_comparison_fits(comparison: compare.Comparison, width: int) -> None:
    comparison.live = True  # with its trace links
    out = _print(compare.render(comparison, width=width), width)
    assert max(len(line) for line in out.splitlines()) <= width
    assert "response sent at" in out and "What the user waited for" in out
    for run in comparison.runs.values():
        url = comparison.links(run[0].trace_id)["view"]
        assert re.search(rf"(^|\s){re.escape(url)}(\s|$)", out, re.M), f"{url} cut:\n{out}"


@pytest.mark.parametrize("width", WIDTHS)
def test_a_waterfall_fits_with_its_whole_legend_and_heading(width: int) -> None:
    [trace] = json.loads(FIXTURE.read_text())["data"]
    [w] = waterfall.parse([trace])
    out = terminal.text([w], width=width)
    rows = out.splitlines()
    assert max(len(line) for line in rows) <= width, out
    flat = " ".join(line.strip() for line in rows)
    for item in [*legend_items(), "the user waited for it", "ended after the response"]:
        assert item in flat, f"legend item cut at {width} columns: {item!r}\n{out}"
    heading = " ".join(line.strip() for line in rows[:2])
    assert f"{len(w.after_response)} span(s) after it" in heading, out
    ticks, labels = next((rows[i], rows[i + 1]) for i, r in enumerate(rows) if "╵" in r)
    shown = re.findall(r"[\d,]+ ms", labels)
    assert len(shown) == ticks.count("╵") >= 2, f"axis labels run together:\n{labels}"
    assert re.fullmatch(r"\s*([\d,]+ ms\s+)*[\d,]+ ms", labels), labels


@pytest.mark.parametrize(("env", "expected"), [("100", 100), ("160", 160), ("60", 80)])
def test_every_view_draws_for_columns_never_under_80(
    monkeypatch: pytest.MonkeyPatch, env: str, expected: int
) -> None:
    monkeypatch.setenv("COLUMNS", env)
    assert terminal.columns() == expected
