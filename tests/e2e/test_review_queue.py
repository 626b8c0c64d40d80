"""Review at speed in headless Chromium: the Review queue triaged by keys alone (A approves, X rejects, → skips),
then what is left of a work item approved in bulk from its page. Its own server: work items 21 and 12 with every
hero rendered and pending (15), so other flows' decisions do not change what is counted here."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .helpers import TIMEOUT, button, expect_toast, main_area, open_page, wait_idle, wait_until
from .server import REPO, VIEWPORT, prepare_data, running_app, server_env

KITCHEN = "Kitchen Essentials — Cookware Refresh"
RENDER_KITCHEN = """
from services.jobs import stop_embedded_worker, wait_for_job
from services.lifestyle import start_heroes_job

assert wait_for_job(start_heroes_job(work_item_id="12").job_id, timeout=180).status == "succeeded"
stop_embedded_worker()
"""
KEYS = ["a", "a", "x", "ArrowRight", "a", "x", "a", "ArrowRight", "a", "a"]  # 10 heroes: 6 A, 2 X, 2 skipped


@pytest.fixture(scope="module")
def review_app(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("review") / "data"
    prepare_data(data_dir)  # work item 21's heroes
    done = subprocess.run(
        [sys.executable, "-c", RENDER_KITCHEN], cwd=REPO, env=server_env(data_dir), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    with running_app(data_dir) as running:
        yield running


@pytest.fixture
def tab(browser, review_app):
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT)
    yield context.new_page()
    context.close()


def decisions(data_dir: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(data_dir / "reshoot.db") as db:
        return db.execute("SELECT version_id, decision FROM review_decision ORDER BY id").fetchall()


def shown_hero(page: Page) -> str:
    """The work item link of the hero on screen (its href names work item, shot and size)."""
    return main_area(page).locator('a[href*="work_item?"]').first.get_attribute("href") or ""


def progress_text(page: Page) -> str:
    return main_area(page).locator('[data-testid="stProgress"]').inner_text()


def test_triage_ten_heroes_by_keys_then_approve_the_rest_of_a_work_item_in_bulk(tab, review_app):
    page = tab
    open_page(page, f"{review_app.url}/review_queue", heading="Review queue")
    main = main_area(page)
    expect(main.get_by_text("0 of 15 reviewed")).to_be_visible()
    expect(button(main, "Approve")).to_be_enabled()
    seen = []
    for key in KEYS:
        here = shown_hero(page)
        seen.append(here)
        expect(button(main, "Approve")).to_be_enabled()  # drawn, so its key is bound
        page.keyboard.press(key)
        wait_until(lambda here=here: shown_hero(page) != here, message=f"{key} did not move on from {here}")
        wait_idle(page)
        expect(main.locator('[data-testid="stException"]')).to_have_count(0)
    assert len(set(seen)) == 10, seen  # each key moved on to another hero
    made = decisions(review_app.data_dir)
    assert [d for _, d in made] == ["approved"] * 2 + ["rejected", "approved", "rejected"] + ["approved"] * 3
    expect(main.get_by_text("8 of 15 reviewed")).to_be_visible()

    page.keyboard.press("ArrowLeft")  # back to the hero skipped last: still pending
    wait_until(lambda: shown_hero(page) == seen[7], message="← did not go back to the skipped hero")
    wait_idle(page)
    note = main.get_by_placeholder("Optional note")
    note.fill("Handle cut off")  # typed, not sent: it stays with this hero
    note.press("Tab")
    wait_idle(page)
    page.keyboard.press("ArrowRight")
    wait_until(lambda: shown_hero(page) != seen[7], message="→ did not move on")
    expect(note).to_have_value("")
    page.keyboard.press("ArrowLeft")
    wait_until(lambda: shown_hero(page) == seen[7], message="← did not come back")
    expect(note).to_have_value("Handle cut off")

    open_page(page, f"{review_app.url}/work_item?id=12", heading=KITCHEN)
    main.get_by_text(re.compile(r"^All pending \(\d+\)$")).click()  # the bar's segmented control
    wait_idle(page)
    approve_all = button(main, "Approve").filter(has_text=re.compile(r"Approve [1-9]\d* heroes"))
    expect(approve_all).to_be_visible()  # the bar has counted its scope (it reads 0 until its rerun ends)
    label = approve_all.inner_text()
    pending_12 = int(re.search(r"Approve (\d+) heroes", label).group(1))
    assert 0 < pending_12 <= 9
    button(main, f"Approve {pending_12} heroes").click()
    expect_toast(page, f"Approved {pending_12} heroes", "Every decision is in the history.")
    wait_idle(page)
    assert len(decisions(review_app.data_dir)) == 8 + pending_12
    expect(button(main, "Review pending (0)")).to_have_count(0)  # a page link, not a button
    expect(main.get_by_text("Review pending (0)")).to_be_visible()

    open_page(page, f"{review_app.url}/review_queue?work_item=12", heading="Review queue")
    expect(main.get_by_text("Nothing pending here")).to_be_visible()
