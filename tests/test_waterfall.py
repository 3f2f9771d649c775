"""The waterfall model and its views, on a fixed trace in Jaeger's JSON shape."""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import pytest

from marathon.strategies import STRATEGIES
from marathon.views import svg as svg_view
from marathon.views import terminal
from marathon.views.waterfall import FATES, Waterfall, fate, from_jaeger, load, mark, parse
from tests.conftest import run_python

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = Path(__file__).parent / "golden"
# MARATHON_UPDATE_GOLDEN=1 pytest tests/test_waterfall.py rewrites the golden files.
UPDATE = os.environ.get("MARATHON_UPDATE_GOLDEN") == "1"


@pytest.fixture
def fixed() -> Waterfall:
    [w] = load(FIXTURES / "jaeger-trace.json")
    return w


def test_the_response_line_is_where_the_request_span_ends(fixed: Waterfall) -> None:
    request = next(b for b in fixed.bars if b.request)
    assert request.name == "POST /api/marathon/wait-until"
    assert fixed.response_ms == request.end_ms == 45.0
    assert fixed.strategy == "wait-until"


def test_work_that_ended_after_the_response_is_marked(fixed: Waterfall) -> None:
    after = {b.name for b in fixed.after_response}
    assert after == {"send confirmation", "POST", "POST /emails", "audit log"}
    waited = {b.name for b in fixed.bars if not b.after_response}
    assert waited == {"POST /api/marathon/wait-until", "insert runner", "INSERT"}


def test_statuses_tree_and_services(fixed: Waterfall) -> None:
    by_name = {b.name: b for b in fixed.bars}
    assert by_name["send confirmation"].status == "error"
    assert by_name["audit log"].status == "cancelled"
    assert by_name["INSERT"].status == "ok"
    assert by_name["POST /emails"].service == "resend-sandbox"
    assert [b.depth for b in fixed.bars] == [0, 1, 2, 1, 2, 3, 1]  # siblings by start time
    assert by_name["INSERT"].parent_id == by_name["insert runner"].span_id


def test_span_order_in_the_file_does_not_matter(fixed: Waterfall) -> None:
    doc = json.loads((FIXTURES / "jaeger-trace.json").read_text())
    random.Random(7).shuffle(doc["data"][0]["spans"])
    assert parse(doc) == [fixed]


def test_rows_are_flat_and_complete(fixed: Waterfall) -> None:
    rows = fixed.rows()
    assert len(rows) == len(fixed.bars)
    assert {
        "trace_id",
        "strategy",
        "name",
        "start_ms",
        "end_ms",
        "duration_ms",
        "after_response",
        "status",
        "response_ms",
    } <= set(rows[0])


def _golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(actual)
    assert actual == path.read_text(), f"{name} changed; if on purpose: MARATHON_UPDATE_GOLDEN=1"


def test_terminal_golden(fixed: Waterfall) -> None:
    _golden("waterfall.txt", terminal.text([fixed], width=100))


def test_svg_golden(fixed: Waterfall) -> None:
    _golden("waterfall.svg", svg_view.svg([fixed]))


def test_compact_svg_golden(fixed: Waterfall) -> None:
    _golden("waterfall-compact.svg", svg_view.svg([fixed], compact=True))


def test_compact_labels_keep_their_owners() -> None:
    """Compare all and the lesson draw the five strategies compact: no label may be cut,
    least of all its owner ("send confirmation · nob…")."""
    traces = Path(__file__).parent.parent / "docs" / "traces"  # real ones: compare --jaeger-json
    five = [w for s in STRATEGIES for w in load(traces / f"{s}.json")]
    assert [w.strategy for w in five] == list(STRATEGIES)
    doc = svg_view.svg(five, compact=True)
    labels = re.findall(r'<text class="l[^"]*" x="[^"]+" y="[^"]+">([^<]*)</text>', doc)
    assert len(labels) == sum(len(w.bars) for w in five)
    assert not [label for label in labels if "…" in label]
    for owned in ("send confirmation · nobody", "send confirmation · wait_until"):
        assert owned in labels
    assert "insert runner · wait_until" in labels  # concurrent's
    # The labels take room from the bars, not from the text: the drawing keeps its width.
    assert 'viewBox="0 0 760 ' in doc


def test_terminal_line_and_marks(fixed: Waterfall) -> None:
    lines = terminal.text([fixed], width=100).splitlines()
    bars = [ln for ln in lines if terminal.RESPONSE in ln][:7]  # under the (wrapped) heading
    rows = {ln.split()[0]: ln for ln in bars}
    columns = {ln.index(terminal.RESPONSE) for ln in bars}
    assert len(columns) == 1, "the response line is one straight column"
    [column] = columns
    assert rows["send"].rstrip().endswith("✗")  # failed
    assert rows["audit"].rstrip().endswith("⊘")  # cancelled
    assert terminal.AFTER in rows["send"] and terminal.WAITED not in rows["send"]
    assert rows["insert"].rindex(terminal.WAITED) < column, "the insert ended before the line"


def test_svg_line_sits_at_the_request_end(fixed: Waterfall) -> None:
    doc = svg_view.svg([fixed], width=980)
    line_x = float(re.search(r'<line class="resp" x1="([\d.]+)"', doc).group(1))  # type: ignore[union-attr]
    request = re.search(r'<rect class="bar finished" x="([\d.]+)" y="\d+" width="([\d.]+)"', doc)
    assert request is not None
    assert abs(float(request.group(1)) + float(request.group(2)) - line_x) < 0.2
    assert doc.count('data-after-response="true"') == 4
    assert 'data-status="cancelled"' in doc and 'class="bar failed after"' in doc


def test_the_trace_command_reads_a_saved_file(tmp_path: Path) -> None:
    page = tmp_path / "trace.html"
    fixture = str(FIXTURES / "jaeger-trace.json")
    r = run_python(
        "-m", "marathon", "trace", "--file", fixture, "--html", str(page), env={"COLUMNS": "120"}
    )
    assert r.returncode == 0, r.stderr
    assert "send confirmation" in r.stdout and terminal.RESPONSE in r.stdout
    assert "<svg" in page.read_text() and "<script" not in page.read_text()


def _span(sid: str, parent: str | None, name: str, start: int, ms: int, **tags: object) -> object:
    return {
        "traceID": "c" * 32,
        "spanID": sid,
        "operationName": name,
        "references": [{"refType": "CHILD_OF", "spanID": parent}] if parent else [],
        "startTime": start * 1000,
        "duration": ms * 1000,
        "tags": [{"key": k.replace("_", ".", 1), "value": v} for k, v in tags.items()],
        "processID": "p1",
    }


def test_work_a_cancelled_span_awaited_is_drawn_cancelled_not_failed() -> None:
    """The shutdown's cancelled email: its HTTP client span says "ok" and the sandbox's span
    "error" (its client hung up, 499). Both went down with the email, and say so: a red bar
    there would read as "the email API failed"."""
    cancelled = {"otel_status_code": "ERROR", "otel_status_description": "cancelled: stopped"}
    trace = {
        "traceID": "c" * 32,
        "processes": {"p1": {"serviceName": "api"}},
        "spans": [
            _span("01", None, "POST /api/marathon/fire-and-forget", 0, 20, span_kind="server"),
            _span("02", "01", "insert runner", 1, 10),
            _span(
                "03",
                "01",
                "send confirmation",
                12,
                500,
                marathon_outcome="cancelled_at_shutdown",
                **cancelled,
            ),
            _span("04", "03", "render", 12, 2),  # finished long before: stays finished
            _span("05", "03", "POST", 14, 498, span_kind="client"),
            _span(
                "06", "05", "POST /emails", 15, 499, otel_status_code="ERROR", http_status_code=499
            ),
        ],
    }
    w = from_jaeger(trace)
    got = {b.name: (fate(b), mark(b)) for b in w.bars}
    assert got["send confirmation"] == ("cancelled", "⊘")
    assert got["POST"] == ("cancelled", "⊘") and got["POST /emails"] == ("cancelled", "⊘")
    assert got["render"] == ("finished", "") and got["insert runner"] == ("finished", "")
    doc = svg_view.svg([w])
    assert 'data-status="error"' not in doc  # nothing in it failed
    assert doc.count('class="bar cancelled after"') == 3
    styles = {terminal._style(b) for b in w.bars if b.name.startswith("POST ")} - {""}
    assert styles == {FATES["cancelled"][0], FATES["finished"][0]}


def test_every_view_colours_a_bar_by_what_happened_to_it(fixed: Waterfall) -> None:
    """One colour per fate, from FATES, in the terminal and the SVG; waiting is the hatching."""
    doc = svg_view.svg([fixed])
    for bar in fixed.bars:
        colour = FATES[fate(bar)][0]
        assert terminal._style(bar) == colour
        hatched = " after" if bar.after_response else ""
        assert f'class="bar {fate(bar)}{hatched}" ' in doc
        assert f".{fate(bar)}{{fill:{colour};" in doc
    legend = "\n".join(terminal.legend(80)) + doc
    assert all(meaning in legend for _, _, meaning in FATES.values())


def test_an_svg_legend_names_only_the_marks_its_waterfalls_show() -> None:
    """sequential's trace: everything awaited, nothing after the response, no owner: its legend
    has no hatching, no marks and no owners (the full list stays for the terminal's legend)."""
    from marathon.views.waterfall import legend_items

    traces = Path(__file__).parent.parent / "docs" / "traces"
    sequential = load(traces / "sequential.json")[0]
    assert legend_items(sequential.bars) == []
    assert "∅ dropped: never ran" in legend_items()
    drawn = svg_view.svg([sequential])
    legend = drawn[drawn.index('<g class="legend"') :]
    assert "the user waited for it" in legend and "response sent" in legend
    assert "ended after the response" not in legend and "cancelled" not in legend
    queued = load(traces / "queued.json")[0]
    assert legend_items(queued.bars) == [
        "↷ ended after the response",
        "↪ linked attempt (its own trace)",
        "· queue: a worker's attempt, durable, retried",
        "no owner shown: the request awaited it",
    ]
