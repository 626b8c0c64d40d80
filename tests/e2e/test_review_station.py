"""Review in Chromium: Approve / Reject on a hero card, the large view driven by the keyboard alone (←/→ shots,
↓ size, A approve, X reject with a note), and the compact grid's twelve cards above the fold at 1440×900.

A work item of 14 shots (two grid pages) with its heroes is added for these flows only, so the demo items other
flows count stay untouched.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from playwright.sync_api import Page, expect

from ui.grid_density import TOGGLE_KEY
from ui.hero_card import card_selector

from .helpers import DIALOG, button, card, main_area, open_dialog, open_page, wait_idle, wait_until
from .server import REPO, server_env

TITLE = "Patio Grid — Fourteen Shots"
ADD_WORK_ITEM = """
import sys
from services.importer import import_data
from services.jobs import stop_embedded_worker, wait_for_job
from services.lifestyle import start_heroes_job

sizes = [("Desktop", 1920, 800), ("Tablet", 1536, 768), ("Mobile", 750, 1334)]
shots = [{"shot_id": f"PT-{n}", "sku": f"PATIO-{n:02d}", "prompt": f"A patio, scene {n}, evening light"}
         for n in range(1, 15)]
plan = [{"shot_id": s["shot_id"], "sku": s["sku"], "size_label": label, "width": w, "height": h,
         "filename": f"fcc/lifestyle/40/{s['shot_id']}/{label.lower()}.png"} for s in shots for label, w, h in sizes]
import_data({"workItems": [{"id": "40", "title": sys.argv[1], "status": "open",
                            "lifestylePack": {"version": "v2", "shots": shots, "exportPlan": plan}}]})
job = wait_for_job(start_heroes_job(work_item_id="40").job_id, timeout=300)
assert job.status == "succeeded", job
stop_embedded_worker()
"""


CARD_RECTS = f"""() => Array.from(document.querySelectorAll('{card_selector("40_")}')).map((card) => {{
  const r = card.getBoundingClientRect();
  return {{x: r.x, y: r.y, width: r.width, height: r.height, bottom: r.bottom, right: r.right}};
}})"""


@pytest.fixture(scope="module")
def patio(app):
    done = subprocess.run(
        [sys.executable, "-c", ADD_WORK_ITEM, TITLE],
        cwd=REPO,
        env=server_env(app.data_dir),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return f"{app.url}/work_item?id=40"


def shown(page: Page) -> tuple[str | None, str | None]:
    query = dict(re.findall(r"[?&](\w+)=([^&]*)", page.url))
    return query.get("shot"), query.get("size")


def press(page: Page, key: str) -> None:
    page.keyboard.press(key)
    wait_idle(page)


def test_approve_and_reject_with_a_note_on_a_card(page, patio):
    open_page(page, patio, heading=TITLE)
    pt1 = card(page, "PT-1 · PATIO-01")
    expect(pt1.get_by_title("Desktop: Pending review")).to_be_visible()
    button(pt1, "Approve").click()
    expect(pt1.get_by_text(re.compile(r"^✓ Approved by .+ · 2\d{3}-\d\d-\d\d \d\d:\d\d UTC$"))).to_be_visible()
    expect(pt1.get_by_title(re.compile(r"^Desktop: Approved by "))).to_be_visible()
    expect(button(pt1, "Approve")).to_be_disabled()

    button(pt1, "Reject").click()  # its popover: a note, then Reject
    note = page.get_by_placeholder("Optional: what is wrong")
    note.fill("Logo cut off")
    note.press("Tab")
    wait_idle(page)
    page.locator('[data-testid="stPopoverBody"]').locator('[data-testid^="stBaseButton"]').filter(
        has_text="Reject"
    ).click()
    expect(pt1.get_by_text(re.compile(r"^✗ Rejected by "))).to_be_visible()
    expect(pt1.get_by_title(re.compile(r"^Desktop: Rejected by "))).to_be_visible()


def test_the_large_view_reviews_by_keyboard_across_the_grid_page(page, patio):
    open_page(page, f"{patio}&shot=PT-12&size=Desktop", heading=TITLE)
    dialog = open_dialog(page)
    expect(dialog.get_by_text("shot 12 of 14")).to_be_visible()
    press(page, "ArrowRight")  # PT-13 is on the grid's second page
    expect(dialog.get_by_text("shot 13 of 14")).to_be_visible()
    assert shown(page) == ("PT-13", "Desktop")
    press(page, "ArrowLeft")
    press(page, "ArrowLeft")
    expect(dialog.get_by_text("shot 11 of 14")).to_be_visible()
    assert shown(page) == ("PT-11", "Desktop")
    press(page, "ArrowDown")
    expect(dialog.get_by_text("PT-11 · PATIO-11 · Tablet 1536×768", exact=False)).to_be_visible()
    assert shown(page) == ("PT-11", "Tablet")

    press(page, "a")
    expect(dialog.get_by_text(re.compile(r"^✓ Approved by "))).to_be_visible()
    note = dialog.get_by_placeholder("Optional note, saved with the decision")
    note.fill("Horizon tilted")
    note.press("Tab")  # the keys work once no text box has the focus
    wait_idle(page)
    press(page, "ArrowRight")  # the note is PT-11's: PT-12's box is empty, and PT-11's waits for its return
    expect(dialog.get_by_text("shot 12 of 14")).to_be_visible()
    expect(note).to_have_value("")
    press(page, "ArrowLeft")
    expect(dialog.get_by_text("shot 11 of 14")).to_be_visible()
    expect(note).to_have_value("Horizon tilted")
    press(page, "x")
    expect(dialog.get_by_text(re.compile(r"^✗ Rejected by "))).to_be_visible()
    expect(note).to_have_value("")
    expect(dialog.get_by_text("Horizon tilted", exact=False).filter(visible=True).first).to_be_visible()  # thread

    press(page, "Escape")
    expect(page.locator(DIALOG)).to_have_count(0)
    pt11 = card(page, "PT-11 · PATIO-11")  # the card behind shows the decision
    expect(pt11.get_by_title(re.compile(r"^Tablet: Rejected by "))).to_be_visible()


def test_compact_grid_shows_twelve_cards_above_the_fold(page, patio):
    open_page(page, patio, heading=TITLE)
    toggle = main_area(page).locator(f".st-key-{TOGGLE_KEY}")
    toggle.get_by_text("Compact", exact=True).click()
    wait_idle(page)
    try:
        menus = page.locator('[class*="st-key-detail_menu_40_"]')  # only compact cards have a ⋮ menu
        wait_until(lambda: menus.count() == 12, message="the compact grid never showed its 12 cards")
        wait_idle(page)
        assert page.viewport_size == {"width": 1440, "height": 900}
        rects = page.evaluate(CARD_RECTS)  # all at one moment
        inside = [r for r in rects if r["y"] >= 0 and r["x"] >= 0 and r["bottom"] <= 900 and r["right"] <= 1440]
        assert len(inside) >= 12, f"{len(inside)} of {len(rects)} cards fit above the fold: {rects}"
        assert len({round(b["y"]) for b in inside}) == 2  # two rows of six
        page.mouse.click(inside[2]["x"] + inside[2]["width"] / 2, inside[2]["y"] + 50)  # a thumbnail
        dialog = open_dialog(page)
        expect(dialog.get_by_text("shot 3 of 14")).to_be_visible()
        press(page, "Escape")
    finally:  # the choice is the person's, kept server-side: the other flows expect the comfortable grid
        open_page(page, patio, heading=TITLE)
        if main_area(page).locator(f".st-key-{TOGGLE_KEY} input").is_checked():
            main_area(page).locator(f".st-key-{TOGGLE_KEY}").get_by_text("Compact", exact=True).click()
            wait_idle(page)
