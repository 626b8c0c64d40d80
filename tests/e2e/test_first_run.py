"""A fresh clone's first start, as a new user sees it: `streamlit run dashboard.py` on an empty data dir."""

from __future__ import annotations

from playwright.sync_api import expect

from ui.navigation import work_items_key

from .helpers import TIMEOUT, dataframe, dataframe_column, main_area, wait_until
from .server import VIEWPORT, running_app


def test_first_page_shows_while_the_demo_renders_then_fills_in_without_a_reload(browser, tmp_path):
    with running_app(tmp_path / "data") as app:
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT)
        page = context.new_page()
        page.goto(app.url)
        main = main_area(page)
        expect(main.get_by_role("heading", name="Work Items", exact=True)).to_be_visible()
        progress = main.get_by_text("Rendering demo images:")
        loading = main.get_by_text("Loading the demo set")
        wait_until(lambda: progress.count() + loading.count() > 0, message="no demo progress on the first page")

        # No reload from here on: the page reruns itself as the images arrive, until all 12 of item 7's are counted (pending review).
        table = dataframe(page, work_items_key("table"))

        def item_7_images() -> str:
            try:
                ids = dataframe_column(table, "ID")
                return dataframe_column(table, "Pending")[ids.index("7")] if "7" in ids else ""
            except Exception:  # the table is being redrawn by a rerun
                return ""

        wait_until(lambda: item_7_images() == "12", message="item 7's images never showed", timeout=240_000)
        wait_until(
            lambda: progress.count() + loading.count() == 0, message="the progress never went away", timeout=240_000
        )
        context.close()
