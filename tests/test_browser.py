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
from marathon.settings import Settings
from marathon.stack import ThreadedServer

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
    with ThreadedServer(create_app(settings)) as server:
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
