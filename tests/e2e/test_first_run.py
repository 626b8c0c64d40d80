"""A fresh clone's first start, as a new user sees it: `streamlit run dashboard.py` on an empty data dir."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from .helpers import TIMEOUT, dataframe, dataframe_column, main_area, wait_idle, wait_until
from .server import VIEWPORT, running_app

FIRST_PAGE_SECONDS = 30  # generous on a loaded 2-core machine; the demo's images take longer and come after it


def test_first_page_shows_while_the_demo_renders_then_fills_in_without_a_reload(browser, tmp_path):
    with running_app(tmp_path / "data") as app:
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT)
        page = context.new_page()
        started = time.monotonic()
        page.goto(app.url)
        main = main_area(page)
        expect(main.get_by_role("heading", name="Work Items", exact=True)).to_be_visible()
        assert time.monotonic() - started < FIRST_PAGE_SECONDS
        progress = main.get_by_text("Rendering demo images:")
        loading = main.get_by_text("Loading the demo set")
        wait_until(lambda: progress.count() + loading.count() > 0, message="no demo progress on the first page")

        # No reload from here on: the page reruns itself as the images arrive.
        wait_until(lambda: progress.count() + loading.count() == 0, message="the demo never finished",
                   timeout=240_000)
        wait_idle(page)
        table = dataframe(page, "wi_table")
        row = dataframe_column(table, "ID").index("7")
        assert dataframe_column(table, "Images")[row] == "12"
        context.close()
