"""What a reviewer waits for after a click that generates nothing, in headless Chromium: on a grid page of 12 cards
(a work item of 14 shots), from a card's `Approve` until the card shows "✓ Approved by …", and from → in the large
view until the next shot's image is painted; on the comfortable grid and on the compact one (fewer elements a card).
Beside each wait, the browser's own script time meanwhile (Chromium's `ScriptDuration` performance metric: its
JavaScript, Streamlit's frontend drawing the run's result) and how many elements the page holds.

Streamlit's frontend draws the page's elements again after every script run, a fragment's (one card's) included, so
the browser's share of a wait grows with the elements on the page, not with what the click changed.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench.common import Row, measure

NAME = "review_clicks"
ITEM, TITLE = "30", "Garden Furniture — Summer Range"  # tests/e2e/server.py's extra data: 14 shots, heroes made
PENDING = (9, 10, 11)  # shots whose Desktop hero no one has decided on yet
ELEMENTS = '() => document.querySelectorAll(\'[data-testid="stMain"] [data-testid="stElementContainer"]\').length'
# The card whose Select box has the key `key` (the block holding it) shows "✓ Approved by …". Kept cheap: page
# functions run at every animation frame, and their time counts in the browser's script time.
APPROVED = """(key) => {
  const select = document.querySelector(`.st-key-${key}`);
  return Boolean(select && select.parentElement.textContent.includes('✓ Approved by'));
}"""
# The address names another shot than `before`'s, and the large view's images of that shot have been painted.
NEXT_SHOT = """(before) => {
  const shot = new URLSearchParams(location.search).get('shot');
  const dialog = document.querySelector('[data-testid="stDialog"] [role="dialog"]');
  if (!dialog || !shot || shot === new URLSearchParams(before).get('shot')) return false;
  const images = [...dialog.querySelectorAll('img')].filter((img) => img.src.includes('/' + shot + '/'));
  return images.length > 0 && images.every((img) => img.complete && img.naturalWidth > 0);
}"""


class Browser:
    """One Chromium page with its script-time metric."""

    def __init__(self, page):
        self.page = page
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Performance.enable")

    def script_seconds(self) -> float:
        metrics = self.cdp.send("Performance.getMetrics")["metrics"]
        return next(m["value"] for m in metrics if m["name"] == "ScriptDuration")

    def wait(self, act, done: str, arg=None) -> tuple[float, float]:
        """(seconds from `act` until the page function `done` holds, the browser's script seconds meanwhile)."""
        from tests.e2e.helpers import TIMEOUT, wait_idle

        wait_idle(self.page)
        self.page.wait_for_timeout(300)  # images and animations of the last step have settled
        script, start = self.script_seconds(), time.perf_counter()
        act()
        self.page.wait_for_function(done, arg=arg, polling="raf", timeout=TIMEOUT)
        return time.perf_counter() - start, self.script_seconds() - script


def _set_compact(page, compact: bool) -> None:
    from tests.e2e.helpers import main_area, wait_idle
    from ui.grid_density import TOGGLE_KEY

    toggle = main_area(page).locator(f".st-key-{TOGGLE_KEY}")
    if toggle.locator("input").is_checked() != compact:
        toggle.get_by_text("Compact", exact=True).click()
        wait_idle(page)


def _approvals(browser: Browser) -> list[tuple[float, float]]:
    from tests.e2e.helpers import button, card
    from ui.bulk_review import select_key

    found = []
    for shot in PENDING:
        approve = button(card(browser.page, f"GF-{shot} · GARDEN-{shot:02d}"), "Approve")
        found.append(browser.wait(approve.click, APPROVED, select_key(ITEM, f"GF-{shot}")))
    return found


def _next_shots(browser: Browser, url: str, steps: int) -> list[tuple[float, float]]:
    from tests.e2e.helpers import open_dialog, open_page

    open_page(browser.page, f"{url}&shot=GF-1&size=Desktop", heading=TITLE)
    open_dialog(browser.page)
    found = []
    for _ in range(steps):
        before = browser.page.url.split("?", 1)[1]
        found.append(browser.wait(lambda: browser.page.keyboard.press("ArrowRight"), NEXT_SHOT, before))
    browser.page.keyboard.press("Escape")
    return found


def _row(metric: str, samples: list[tuple[float, float]], elements: int) -> Row:
    total = statistics.median(s for s, _ in samples)
    script = statistics.median(js for _, js in samples)
    return measure(
        NAME,
        metric,
        f"{total:.2f} s",
        f"median of {len(samples)}; the browser's script time meanwhile {script:.2f} s; "
        f"{elements} elements on the page",
    )


def run(quick: bool = False) -> list[Row]:
    from playwright.sync_api import sync_playwright

    from tests.e2e.helpers import open_page
    from tests.e2e.server import VIEWPORT, launch_chromium, prepare_data, running_app

    steps = 3 if quick else 6
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="reshoot-review-") as tmp, sync_playwright() as playwright:
        data_dir = Path(tmp) / "data"
        prepare_data(data_dir, extra=True)
        with running_app(data_dir) as app:
            chromium = launch_chromium(playwright)
            browser = Browser(chromium.new_context(viewport=VIEWPORT).new_page())
            url = f"{app.url}/work_item?id={ITEM}"
            for compact in (False, True):
                open_page(browser.page, url, heading=TITLE)
                _set_compact(browser.page, compact)
                open_page(browser.page, url, heading=TITLE)  # as a reviewer finds it (no elements left from before)
                elements = browser.page.evaluate(ELEMENTS)
                grid = "compact grid" if compact else "grid"
                if not compact:  # a compact card's Approve is in its ⋮ menu
                    rows.append(
                        _row(f"{grid}, 12 cards: Approve on a card → its decision shown", _approvals(browser), elements)
                    )
                rows.append(
                    _row(
                        f"{grid}, 12 cards: → in the large view → the next shot's image painted",
                        _next_shots(browser, url, steps),
                        elements,
                    )
                )
            open_page(browser.page, url, heading=TITLE)
            _set_compact(browser.page, False)  # the local user's choice, kept on the server: as it was
            chromium.close()
    return rows
