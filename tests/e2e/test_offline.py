"""Offline and clean (issue 14 item 10): every page, opened directly at its own URL as a shared link would be,
loads nothing from outside this machine and gets no 404 (Streamlit's `/<page>/_stcore/health` probe included)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from .helpers import main_area, open_page

PAGES = [
    ("/", "Work Items"),
    ("/work_item?id=21", "Home Office — Compact Desk Range"),
    ("/work_item?id=21&shot=HO-1&size=Tablet", "Home Office — Compact Desk Range"),
    ("/sku_switcher?id=21&sku=OFF-DESK-120-OAK", "SKU Switcher"),
    ("/storyboard?project=coffee-origins&sentence=sent_001", "Storyboard"),
    ("/jobs", "Jobs"),
    ("/settings", "Settings"),
]


@pytest.mark.parametrize(("path", "heading"), PAGES)
def test_a_page_opened_by_its_link_stays_on_this_machine_without_404s(page, app, path, heading):
    requests, failures, console = [], [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on(
        "response", lambda response: response.status >= 400 and failures.append(f"{response.status} {response.url}")
    )
    page.on("console", lambda message: message.type == "error" and console.append(message.text))
    open_page(page, app.url + path, heading=heading)
    main_area(page).locator("img").evaluate_all("imgs => Promise.all(imgs.map(i => i.decode().catch(() => null)))")
    page.wait_for_timeout(500)  # late requests: favicon, fonts, a component's assets
    elsewhere = [
        u
        for u in requests
        if urlsplit(u).scheme in ("http", "https", "ws", "wss") and urlsplit(u).hostname != "127.0.0.1"
    ]
    assert not elsewhere, f"requests that left the machine: {elsewhere}"
    assert not failures, f"failed requests: {failures}"
    assert not [c for c in console if "404" in c or "Failed to load" in c], console
    if "sentence=" in path:
        assert "sentence=sent_001" in page.url  # the link still names what is open
