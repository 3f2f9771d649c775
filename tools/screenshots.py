"""Screenshots for the documentation site, taken in Debian's Chromium through Playwright.

`make screenshots` (or `python -m tools.screenshots`) starts a throwaway stack, clicks through
the workshop page and the built-in trace views, and writes PNGs to `artifacts/screenshots/`; the
Makefile then copies them to `docs/screenshots/`, the committed copies the site shows. The browser
tests may write newer ones to the same folder; the site build prefers whichever is newer.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

__all__ = ["CHROMIUM_ARGS", "take"]

OUT = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--no-first-run",
    # No network in a workshop room: without these Chromium keeps trying to reach Google.
    "--disable-background-networking",
    "--disable-component-update",
]


def take(out: Path = OUT) -> list[Path]:
    from playwright.sync_api import sync_playwright

    from marathon.lab.stacks import fresh_stack

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no Chromium: apt-get install chromium")
    out.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    with fresh_stack() as (url, _settings), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def shot(name: str, selector: str | None = None) -> None:
            path = out / f"{name}.png"
            if selector:
                page.locator(selector).screenshot(path=str(path))
            else:
                page.screenshot(path=str(path))
            shots.append(path)

        page.goto(url)
        page.wait_for_function("document.querySelector('#f-email').value !== ''")
        shot("page")
        for strategy in ("wait-until", "queued"):
            page.click(f'button.strategy[data-strategy="{strategy}"]')
            row = page.locator(f'#results tr[data-strategy="{strategy}"]').first
            row.locator("td.delivered", has_text="yes").wait_for(timeout=30_000)
        page.wait_for_selector('#waterfall g.waterfall[data-strategy="queued"]', timeout=15_000)
        shot("page-results", "#results")
        page.click("#compare-all")
        page.wait_for_function(
            "document.querySelectorAll('#waterfall g.waterfall').length === 5", timeout=60_000
        )
        shot("compare-all", "#waterfall")
        pages = {}
        for strategy in ("wait-until", "queued"):
            link = page.locator(f'#results tr[data-strategy="{strategy}"] a', has_text="page")
            pages[strategy] = url + str(link.first.get_attribute("href"))
        page.goto(pages["wait-until"])
        shot("trace-page")
        page.goto(pages["queued"])  # the request trace with its linked attempt merged in
        shot("trace-page-queued")
        page.goto(url + "/outbox")
        shot("outbox")
        browser.close()
    return shots


if __name__ == "__main__":
    for path in take(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT):
        print(path)
