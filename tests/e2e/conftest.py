"""Browser fixtures: one dashboard server and one headless Chromium for the whole session, a fresh tab per test."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import sync_playwright

from .helpers import TIMEOUT
from .server import CHROMIUM, VIEWPORT, App, launch_chromium, prepare_data, running_app


@pytest.fixture(scope="session")
def app(tmp_path_factory) -> App:
    """`streamlit run dashboard.py` over a fresh data dir holding the demo set (local backend)."""
    data_dir = tmp_path_factory.mktemp("e2e") / "data"
    prepare_data(data_dir)
    with running_app(data_dir) as running:
        yield running


@pytest.fixture(scope="session")
def browser():
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing: apt-get install chromium (see .ci/run)"
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.e2e_failed = report.failed


@pytest.fixture
def page(request, app, browser, tmp_path):
    """A new browser session (own cookies, own Streamlit session) at 1440×900; on failure a screenshot is kept."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    yield page
    if getattr(request.node, "e2e_failed", False):
        shot = tmp_path / "failure.png"
        page.screenshot(path=str(shot))
        print(f"\nscreenshot: {shot}\nserver log: {app.log}")
    context.close()
