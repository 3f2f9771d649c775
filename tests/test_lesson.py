"""The lesson mode's data and routes, and what makes the page readable on a projector: the SVG
scales (viewBox, no fixed size, no text under 12 units) and the colours pass WCAG AA."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from marathon import knobs
from marathon.lab import scenario_runner
from marathon.service import fake
from marathon.strategies import STRATEGIES
from marathon.views import lesson_steps
from marathon.views import svg as svg_view
from marathon.views.waterfall import Waterfall, load

FIXTURE = Path(__file__).parent / "fixtures" / "jaeger-trace.json"
CSS = Path(lesson_steps.__file__).parent / "static" / "app.css"


def test_seven_steps_in_the_order_of_the_lesson() -> None:
    assert [s.slug for s in lesson_steps.STEPS] == [
        "who-waits",
        "slow-email",
        "shutdown",
        "serverless",
        "duplicate",
        "outage",
        "burst",
    ]
    assert lesson_steps.step(3).slug == "shutdown"
    for bad in (0, 8):
        with pytest.raises(IndexError):
            lesson_steps.step(bad)


@pytest.mark.parametrize("step", lesson_steps.STEPS, ids=lambda s: s.slug)
def test_every_step_runs_something_this_server_has(step: lesson_steps.Step) -> None:
    assert step.question.endswith("?") and step.takeaway
    run = step.run
    if "scenario" in run:
        assert run["scenario"] in scenario_runner.SCENARIOS
    else:
        named = run["register"] if "register" in run else [run["burst"]]
        assert set(named) <= set(STRATEGIES)
        knobs.parse_overrides(run["knobs"])  # raises on a knob the server would refuse
    if step.predict == "strategies":
        assert set(step.choices) <= set(STRATEGIES) and step.answer["where"] in lesson_steps.WHERE
    elif step.predict == "ms":
        assert step.answer["measure"] == "client_ms" and step.answer["strategy"] in STRATEGIES
    else:
        assert step.predict == "count" and "burst" in run and step.answer["status"] == 503


@pytest.mark.anyio
async def test_lesson_routes(client: httpx.AsyncClient) -> None:
    steps = (await client.get("/api/lesson")).json()["steps"]
    assert [s["number"] for s in steps] == list(range(1, 8))
    assert steps[2]["run"] == {"scenario": "shutdown-mid-flight"}
    for n in (1, 7):
        page = await client.get(f"/lesson/{n}")
        assert page.status_code == 200 and 'class="mode-lesson"' in page.text
        assert f'data-step="{n}"' in page.text and "/static/lesson.js" in page.text
        embedded = re.search(r'id="lesson-data">(.*?)</script>', page.text, flags=re.S)
        assert embedded and json.loads(embedded.group(1))["steps"] == steps
    assert 'class="mode-free"' in (await client.get("/")).text
    for bad in ("/lesson/0", "/lesson/8"):
        assert (await client.get(bad)).status_code == 404


@pytest.fixture
def fixed() -> Waterfall:
    [w] = load(FIXTURE)
    return w


def _font_sizes(doc: str) -> list[float]:
    return [float(v) for v in re.findall(r"font:[^;}]*?(\d+(?:\.\d+)?)px", doc)]


@pytest.mark.parametrize("compact", [False, True])
def test_the_svg_scales_and_no_text_is_under_12_units(fixed: Waterfall, compact: bool) -> None:
    doc = svg_view.svg([fixed, fixed], compact=compact)
    root = re.search(r"<svg [^>]*>", doc)
    assert root and "viewBox=" in root.group(0)
    assert not re.search(r"\s(width|height)=", root.group(0)), "a fixed size does not scale"
    assert min(_font_sizes(doc)) >= 12


def test_compact_drops_the_titles_and_names_the_request_after_its_strategy(
    fixed: Waterfall,
) -> None:
    full, compact = svg_view.svg([fixed]), svg_view.svg([fixed], compact=True)
    height = lambda d: float(re.search(r'viewBox="0 0 \d+ ([\d.]+)"', d).group(1))  # noqa: E731
    assert height(compact) < height(full)
    assert 'class="t"' in full and 'class="t"' not in compact
    assert 'class="waterfalls compact"' in compact  # the page sizes it for a slide
    assert re.search(rf'class="l req"[^>]*>{fixed.title}<', compact)


def _luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: str, bg: str) -> float:
    lighter, darker = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_contrast_helper() -> None:
    assert contrast("#000", "#fff") == pytest.approx(21)
    assert contrast("#777", "#fff") < 4.5 < contrast("#767676", "#fff")


def test_page_colours_pass_wcag_aa() -> None:
    """Every text colour of the stylesheet against the backgrounds it is drawn on (4.5:1)."""
    css = CSS.read_text()
    var = dict(re.findall(r"--(\w+):\s*(#[0-9a-fA-F]{3,6})", css))
    text = [var[n] for n in ("fg", "muted", "accent", "bad", "good")]
    backgrounds = ["#fff", "#f4f6f8", "#eef3fc", "#eef7ee", "#e8f0fe"]  # page, th, answer, ...
    for bg in backgrounds:
        assert f"{bg};" in css or f"{bg} " in css or bg == "#fff", f"{bg} is not in app.css"
        for fg in text:
            assert contrast(fg, bg) >= 4.5, f"{fg} on {bg}: {contrast(fg, bg):.2f}"
    # White on the accent (buttons, the current mode) and on the header.
    assert contrast("#fff", var["accent"]) >= 4.5
    assert contrast("#fff", "#10243e") >= 4.5
    assert contrast("#fff", "#0842a0") >= 4.5  # hovered


def test_waterfall_colours_pass_wcag_aa() -> None:
    for fg in re.findall(r"\.(?:t|l|d|rl|tick|legend)\{[^}]*fill:(#[0-9a-f]{3,6})", svg_view.STYLE):
        assert contrast(fg, "#fff") >= 4.5, fg


@pytest.mark.anyio
async def test_waterfalls_for_a_slide_keep_the_top_spans(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/marathon/sequential", json=fake.runner(), headers={knobs.HEADER: "email_latency_ms=5"}
    )
    trace_id = r.headers["traceresponse"].split("-")[1]
    full = (await client.get(f"/api/waterfalls.svg?trace_id={trace_id}")).text
    slide = (await client.get(f"/api/waterfalls.svg?trace_id={trace_id}&depth=1&compact=true")).text
    assert 'data-span="INSERT"' in full and 'data-span="INSERT"' not in slide
    assert 'data-span="send confirmation"' in slide and 'class="t"' not in slide
    assert (
        await client.get(f"/api/waterfalls.svg?trace_id={trace_id}&depth=-1")
    ).status_code == 200
