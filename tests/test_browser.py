"""The workshop page in a real browser: Debian's Chromium, driven by Playwright.

Skipped with a message on a machine without Chromium, except under CI, where it must run
(`.ci/run` installs the `chromium` package).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from marathon.app import create_app
from marathon.lab import scenario_runner
from marathon.local.stack import ThreadedServer
from marathon.service.settings import Settings

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).parent.parent / "artifacts"
ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    # No network here: without these Chromium keeps trying to reach Google at start.
    "--disable-background-networking",
    "--disable-component-update",
]

if CHROMIUM is None:
    if os.environ.get("CI"):
        raise RuntimeError("CI must run the browser tests: install Debian's chromium package")
    pytest.skip("no Chromium on this machine (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def api(settings: Settings) -> Iterator[ThreadedServer]:
    with ThreadedServer(create_app(settings, run_scenario=scenario_runner.for_server)) as server:
        yield server


@pytest.fixture
def page(browser: Browser, api: ThreadedServer) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.goto(api.url)
    p.wait_for_function("document.querySelector('#f-email').value !== ''")
    yield p
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def _row(page: Page, strategy: str) -> Any:
    return page.locator(f'#results tr[data-strategy="{strategy}"]').first


def _geometry(page: Page, strategy: str) -> dict[str, float]:
    """Where the response line and the email bar sit in the strategy's waterfall."""
    return page.evaluate(
        """(strategy) => {
            const g = document.querySelector(`#waterfall g.waterfall[data-strategy="${strategy}"]`);
            const line = g.querySelector('line.resp');
            const email = g.querySelector('rect[data-span="send confirmation"]');
            const end = Number(email.getAttribute('x')) + Number(email.getAttribute('width'));
            return {line: Number(line.getAttribute('x1')), emailEnd: end};
        }""",
        strategy,
    )


@pytest.mark.parametrize(
    ("strategy", "status", "email_after_response"),
    [
        ("sequential", "201", False),
        ("fire-and-forget", "201", True),
        ("concurrent", "202", True),
        ("wait-until", "201", True),
        ("queued", "202", True),
    ],
)
def test_each_strategy_button_shows_its_row_and_waterfall(
    page: Page, strategy: str, status: str, email_after_response: bool
) -> None:
    page.click(f'button.strategy[data-strategy="{strategy}"]')
    row = _row(page, strategy)
    row.locator("td.http", has_text=status).wait_for(timeout=15_000)
    row.locator("td.delivered", has_text="yes").wait_for(timeout=20_000)
    assert row.locator("td.stored").inner_text() == "yes"
    page.wait_for_selector(f'#waterfall g.waterfall[data-strategy="{strategy}"]', timeout=15_000)
    g = _geometry(page, strategy)
    if email_after_response:
        assert g["emailEnd"] > g["line"] + 5, f"the email bar should end after the line: {g}"
    else:
        assert g["emailEnd"] <= g["line"] + 0.5, f"the user waited for the email: {g}"
    assert row.locator("a", has_text="page").get_attribute("href").startswith("/traces/")


def test_a_knob_changed_in_the_panel_changes_what_the_user_waits_for(page: Page) -> None:
    page.click("#knobs summary")
    page.fill("#knob-email_latency_ms", "1200")
    page.fill("#knob-email_latency_spread", "0")
    page.click("#apply-knobs")
    page.locator("#knob-status", has_text="applied").wait_for()
    page.click('button.strategy[data-strategy="sequential"]')
    waited = _row(page, "sequential").locator("td.waited")
    waited.locator("text=/ms/").wait_for(timeout=15_000)
    assert int(re.sub(r"\D", "", waited.inner_text())) >= 1200
    page.click("#reset-knobs")
    page.locator("#knob-status", has_text="reset").wait_for()
    assert page.input_value("#knob-email_latency_ms") == "400"


def test_a_scenario_from_the_picker_shows_verdicts(page: Page) -> None:
    page.select_option("#scenario", "duplicate-runner")
    page.click("#run-scenario")
    verdict = page.locator('#verdicts tr[data-strategy="concurrent"] td.verdict')
    verdict.wait_for(timeout=60_000)
    assert "never stored" in verdict.inner_text()
    assert "409" in page.locator('#verdicts tr[data-strategy="sequential"]').inner_text()
    # Below its form, full width, in view: not in the strategies' waterfall further up.
    page.wait_for_function(
        "document.querySelectorAll('#scenario-waterfall g.waterfall').length === 5"
    )
    form, table = (page.locator(s).bounding_box() for s in ("#scenario-form", "#verdicts table"))
    assert form and table and table["y"] > form["y"]
    main = page.locator("main").bounding_box()
    assert main and table["width"] > 0.9 * (main["width"] - 48)
    viewport = page.viewport_size
    assert viewport and table["y"] >= 0 and table["y"] + 40 <= viewport["height"]


def test_compare_all_on_one_axis_with_a_screenshot(page: Page) -> None:
    page.click("#compare-all")
    page.wait_for_function(
        "document.querySelectorAll('#waterfall g.waterfall').length === 5", timeout=60_000
    )
    lines = page.locator("#waterfall g.waterfall line.resp").count()
    assert lines == 5, "one response line per strategy"
    box = page.locator("#waterfall svg").bounding_box()
    assert box and box["height"] < 720 - 60, f"five waterfalls on one projector screen: {box}"
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "compare-all.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000


def test_keyboard_and_labels(page: Page) -> None:
    unlabelled = page.evaluate(
        """[...document.querySelectorAll('input, select')]
             .filter(e => e.type !== 'hidden' && e.labels.length === 0).map(e => e.id)"""
    )
    assert unlabelled == []
    page.focus('button.strategy[data-strategy="wait-until"]')
    page.keyboard.press("Enter")
    _row(page, "wait-until").locator("td.http", has_text="201").wait_for(timeout=15_000)


def test_burst_reports_every_answer(page: Page) -> None:
    page.fill("#burst-n", "8")
    page.select_option("#burst-strategy", "wait-until")
    page.click("#burst")
    page.locator("#status", has_text="8 \u00d7 201").wait_for(timeout=30_000)
    page.locator("#pending", has_text="wait_until pending").wait_for(timeout=10_000)


def test_the_outbox_and_registrations_pages(page: Page, api: ThreadedServer) -> None:
    page.click('button.strategy[data-strategy="sequential"]')
    _row(page, "sequential").locator("td.delivered", has_text="yes").wait_for(timeout=15_000)
    runner_id = httpx.get(f"{api.url}/api/traces?strategy=sequential&limit=1").json()["data"][0]
    runner_id = next(
        t["value"]
        for s in runner_id["spans"]
        for t in s["tags"]
        if t["key"] == "marathon.runner_id"
    )
    page.goto(f"{api.url}/registrations")
    assert runner_id in page.inner_text("main")
    page.goto(f"{api.url}/outbox")
    assert runner_id in page.inner_text("main")
    assert "@example.com" in page.inner_text("main") and "…@" in page.inner_text("main")


LESSON_STEPS = 7
SCREENSHOTS = ARTIFACTS / "screenshots"
VIEWPORTS = [(1280, 720), (1920, 1080)]


def _inside_viewport(page: Page, selector: str) -> dict[str, float]:
    box = page.locator(selector).bounding_box()
    viewport = page.viewport_size
    assert box and viewport
    assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], (selector, box)
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], (selector, box)
    return box


def _smallest_waterfall_text_px(page: Page, selector: str = "#lesson-result") -> float:
    """The smallest text of a waterfall (the lesson's result's unless told), in CSS pixels as
    drawn (after scaling)."""
    return float(
        page.evaluate(
            """(selector) => {
                const svg = document.querySelector(`${selector} svg.waterfalls`);
                const scale = svg.getScreenCTM().a;
                return Math.min(...[...svg.querySelectorAll('text')].map(
                    t => parseFloat(getComputedStyle(t).fontSize) * scale));
            }""",
            selector,
        )
    )


def test_the_lesson_names_what_the_server_judged(page: Page, api: ThreadedServer) -> None:
    """The page applies no rule of its own: given verdicts that contradict the row and the
    outbox columns, it names the strategies the server's verdict keys name."""
    row = {"status": 201, "client_ms": 12, "trace_id": None, "verdict": "answered 201; ..."}
    result = {
        "strategies": [
            # stored, no email: a rule in JavaScript would call it lost
            {**row, "strategy": "sequential", "stored": True, "delivered": False,
             "verdicts": ["kept"]},
            {**row, "strategy": "fire-and-forget", "stored": True, "delivered": True,
             "verdicts": ["email_lost", "seen_nowhere"]},
        ]
    }  # fmt: skip
    page.route("**/api/scenarios/shutdown-mid-flight", lambda route: route.fulfill(json=result))
    page.goto(f"{api.url}/lesson/3")
    page.click("#lesson-run")
    answer = page.locator('#lesson-result[data-step="3"] .answer')
    answer.wait_for(timeout=15_000)
    assert "Lost the email: fire-and-forget</b>" in answer.inner_html()
    # Each row's facts: the server's sentences for its keys.
    facts = "#lesson-result tr.verdict-row[data-strategy={}]"
    lost = page.locator(facts.format('"fire-and-forget"')).inner_text()
    assert lost == "the confirmation is lost; nothing says so"
    assert page.locator(facts.format('"sequential"')).inner_text() == "stored and confirmed"


def _css_px(page: Page, selector: str) -> float:
    return float(
        page.evaluate(
            f"parseFloat(getComputedStyle(document.querySelector('{selector}')).fontSize)"
        )
    )


def test_the_lesson_with_the_keyboard_alone(browser: Browser, api: ThreadedServer) -> None:
    """Seven steps on a 1280x720 projector, keyboard only: each result in view after its run,
    big enough to read; then the same result on a 1920x1080 laptop. A screenshot of each."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{api.url}/lesson/1")
    page.locator("#lesson-counter", has_text=f"1 / {LESSON_STEPS}").wait_for()
    for n in range(1, LESSON_STEPS + 1):
        page.set_viewport_size({"width": 1280, "height": 720})
        assert page.url.endswith(f"/lesson/{n}")
        assert _css_px(page, "#lesson-question") >= 16
        if n == 1:  # a typed prediction, run with Enter
            page.focus("#predict-number")
            page.keyboard.type("900")
            page.keyboard.press("Enter")
        else:
            page.keyboard.press("Space")
        answer = page.locator(f'#lesson-result[data-step="{n}"] .answer')
        answer.wait_for(timeout=60_000)
        assert "You:" in answer.inner_text()
        if n == 1:
            assert "900 ms" in answer.inner_text()
        # The slide: its title and question above the result, all on the projector's screen.
        for selector in ("#lesson-title", "#lesson-question", "#lesson-result"):
            _inside_viewport(page, selector)
        assert _css_px(page, "#lesson-result .takeaway") >= 16
        assert _smallest_waterfall_text_px(page) >= 12
        legend = page.locator("#lesson-result svg .legend").text_content() or ""
        if n == 1:  # only the marks this step's waterfalls show
            assert "dropped" not in legend and "linked attempt" not in legend, legend
        if page.locator("#lesson-result td.unchecked").count():  # the 409s of step 5
            assert "no runner id in the answer" in page.inner_text("#lesson-result .note")
        page.screenshot(path=str(SCREENSHOTS / f"lesson-{n}-1280x720.png"))
        page.set_viewport_size({"width": 1920, "height": 1080})
        page.locator("#lesson-result").scroll_into_view_if_needed()
        _inside_viewport(page, "#lesson-result")
        assert _smallest_waterfall_text_px(page) >= 12
        page.screenshot(path=str(SCREENSHOTS / f"lesson-{n}-1920x1080.png"))
        page.keyboard.press("ArrowRight")
        if n < LESSON_STEPS:
            page.locator("#lesson-counter", has_text=f"{n + 1} / {LESSON_STEPS}").wait_for()
            assert page.locator("#lesson-result").inner_text() == ""
    page.keyboard.press("ArrowLeft")  # back works too, and the deep link follows
    page.locator("#lesson-counter", has_text=f"6 / {LESSON_STEPS}").wait_for()
    assert page.url.endswith("/lesson/6")
    # Free mode at 1280x720: a strategy's result is in view after the click.
    page.set_viewport_size({"width": 1280, "height": 720})
    page.click("#mode-free")
    page.click('button.strategy[data-strategy="wait-until"]')
    page.wait_for_selector('#waterfall g.waterfall[data-strategy="wait-until"]', timeout=15_000)
    _inside_viewport(page, "#waterfall-h")
    # The free page's labels: no smaller than the lesson's minimum.
    assert _smallest_waterfall_text_px(page, "#waterfall") >= 12
    page.screenshot(path=str(SCREENSHOTS / "free-mode-1280x720.png"))
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def test_the_burst_step_puts_back_the_shared_limit_it_set(
    browser: Browser, api: ThreadedServer
) -> None:
    """The step sets wait_until_max_pending for its burst (PUT /api/knobs), then puts back the
    PUT's `replaced`: the instructor's own value, not the default. Its table shows what each
    answer stored: nothing for a 503."""
    from marathon import knobs
    from marathon.views.lesson_steps import STEPS
    from tests.conftest import share

    n = next(i for i, s in enumerate(STEPS, 1) if s.slug == "burst")
    share(wait_until_max_pending=7)
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{api.url}/lesson/{n}")
    page.locator("#lesson-counter", has_text=f"{n} / {LESSON_STEPS}").wait_for()
    page.keyboard.press("Space")
    page.locator(f'#lesson-result[data-step="{n}"] .answer').wait_for(timeout=60_000)
    # Rejected at the door: the 503s stored nothing, the others stored and confirmed each runner.
    refused = page.locator('#lesson-result tr[data-status="503"]')
    accepted = page.locator('#lesson-result tr[data-status="201"]')
    assert refused.locator("td.stored").inner_text() == "0"
    assert refused.locator("td.emails").inner_text() == "0"
    created = accepted.locator("td").nth(1).inner_text()
    assert accepted.locator("td.stored").inner_text() == created
    assert accepted.locator("td.emails").inner_text() == created
    assert "they stored nothing" in page.locator("#lesson-result .answer").inner_text()
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"
    assert knobs.defaults().wait_until_max_pending == 7


def test_a_learner_watches_the_instructors_shared_step(
    browser: Browser, settings: Settings
) -> None:
    """On the instructor's server (beyond loopback, with the token), a learner's shared step
    says who runs it before anything runs, asks for no token, and shows the instructor's
    result when they run it."""
    public = settings.with_(bind_host="0.0.0.0", admin_token="s3cret")
    result = {
        "strategies": [
            {"strategy": "fire-and-forget", "status": 201, "client_ms": 9, "trace_id": None,
             "stored": True, "delivered": False, "verdicts": ["email_lost"]},
            {"strategy": "wait-until", "status": 201, "client_ms": 11, "trace_id": None,
             "stored": True, "delivered": True, "verdicts": ["kept"]},
        ]
    }  # fmt: skip
    with ThreadedServer(create_app(public, run_scenario=scenario_runner.for_server)) as api:
        learner = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
        prompts: list[str] = []
        learner.on("dialog", lambda d: (prompts.append(d.message), d.dismiss()))
        learner.goto(f"{api.url}/lesson/3")
        notice = learner.locator("#lesson-watch")
        notice.wait_for()
        assert "The instructor runs this step" in notice.inner_text()
        assert learner.locator("#lesson-run").is_hidden()
        learner.keyboard.press("Space")  # nothing to run here: no prompt, no red line
        learner.check('#lesson-predict input[value="fire-and-forget"]')

        instructor = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
        instructor.on("dialog", lambda d: d.accept("s3cret"))
        instructor.route(
            "**/api/scenarios/shutdown-mid-flight", lambda route: route.fulfill(json=result)
        )
        instructor.goto(f"{api.url}/lesson/3")
        instructor.click("#lesson-sign-in")
        instructor.locator("#lesson-run").wait_for()
        instructor.click("#lesson-run")
        instructor.locator('#lesson-result[data-step="3"] .answer').wait_for(timeout=15_000)

        answer = learner.locator('#lesson-result[data-step="3"] .answer')
        answer.wait_for(timeout=15_000)
        assert "The instructor's run at" in answer.inner_text()
        assert "You: fire-and-forget" in answer.inner_text()
        assert "Lost the email: fire-and-forget</b> ✓ exactly right" in answer.inner_html()
        assert prompts == [], "a learner is never asked for the instructor's token"
        assert "Could not run" not in learner.inner_text("#lesson-result")
        learner.context.close()
        instructor.context.close()


def _offline(context: Any) -> list[str]:
    """Every request beyond this machine aborted, as in a room without internet; the list
    of those it refused."""
    refused: list[str] = []

    def route(r: Any) -> None:
        host = r.request.url.split("/")[2].split(":")[0]
        if r.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            r.continue_()
        else:
            refused.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    return refused


def test_every_page_the_workshop_links_to_works_offline(
    browser: Browser, api: ThreadedServer
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    refused = _offline(context)
    page = context.new_page()
    page.goto(f"{api.url}/lesson/1")
    r = httpx.post(
        f"{api.url}/api/marathon/sequential",
        json=httpx.get(f"{api.url}/api/fake-runner").json(),
        headers={"Marathon-Knobs": "db_latency_ms=0, email_latency_ms=0"},
    )
    trace = r.headers["traceresponse"].split("-")[1]
    links = page.eval_on_selector_all(
        "header a, .modes a", "links => links.map(a => a.getAttribute('href'))"
    )
    assert "/schema/openapi.json" in links
    for href in [*dict.fromkeys(links), f"/traces/{trace}"]:
        response = page.goto(f"{api.url}{href}")
        assert response and response.ok, (href, response and response.status)
        page.wait_for_load_state("load")
        text = page.inner_text("body")
        assert len(text) > 40, (href, text)
        assert refused == [], f"{href} reached beyond this machine: {refused}"
    page.goto(f"{api.url}/schema/openapi.json")
    assert '"openapi"' in page.inner_text("body")
    context.close()


def test_a_failed_span_shows_its_exception_on_the_trace_page(
    browser: Browser, api: ThreadedServer
) -> None:
    r = httpx.post(
        f"{api.url}/api/marathon/sequential",
        json=httpx.get(f"{api.url}/api/fake-runner").json(),
        headers={"Marathon-Knobs": "db_latency_ms=0, email_latency_ms=0, email_failure_rate=1"},
    )
    assert r.status_code == 502, r.text
    trace = r.headers["traceresponse"].split("-")[1]
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.goto(f"{api.url}/traces/{trace}")
    assert page.locator("header a", has_text="Workshop").count() == 1, "a way back"
    failed = page.locator('rect[data-span="send confirmation"][data-status="error"]')
    span_id = failed.get_attribute("data-span-id")
    failed.click()
    details = page.locator(f"details#span-{span_id}")
    assert details.get_attribute("open") is not None
    event = details.locator('li.event[data-event="exception"]')
    assert event.is_visible()
    assert "exception.type" in event.inner_text() and "exception.message" in event.inner_text()
    assert _css_px(page, "body") >= 16, "in the page's style"
    context.close()
