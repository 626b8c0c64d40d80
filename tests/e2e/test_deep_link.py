"""A freshly started server's first visitor arrives on a deep link: the app (dashboard.py's st.navigation, bootstrap
and sign-in gate) serves it, not Streamlit's legacy listing of the pages/ folder running the page file alone."""

from __future__ import annotations

import subprocess
import sys

import pytest
from playwright.sync_api import expect

from .helpers import TIMEOUT, main_area, open_page, sidebar_nav
from .server import REPO, VIEWPORT, running_app, server_env

DEMO_DATA = (
    "from services.db import migrate; from services.demo import load_demo; migrate(); load_demo(generate_images=False)"
)


@pytest.mark.parametrize(
    ("path", "heading"), [("/work_item?id=7", "Outdoor Living — Summer Patio Collection"), ("/jobs", "Jobs")]
)
def test_the_first_visit_to_a_fresh_server_on_a_deep_link_runs_the_app(browser, tmp_path, path, heading):
    data_dir = tmp_path / "data"
    subprocess.run([sys.executable, "-c", DEMO_DATA], cwd=REPO, env=server_env(data_dir), check=True, timeout=300)
    with running_app(data_dir) as app:
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT)
        page = context.new_page()
        open_page(page, f"{app.url}{path}", heading=heading)
        nav = sidebar_nav(page)
        # The app's navigation, its labels and sections; the legacy listing names the files ("Sku switcher",
        # "Dashboard", "Work item").
        expect(nav.get_by_text("SKU Switcher", exact=True)).to_be_visible()
        expect(nav.get_by_text("System", exact=True)).to_be_visible()
        for legacy in ("Dashboard", "Sku switcher", "Work item"):
            expect(nav.get_by_text(legacy, exact=True)).to_have_count(0)
        assert page.url == f"{app.url}{path}"
        expect(main_area(page).locator('[data-testid="stException"]')).to_have_count(0)
        context.close()
