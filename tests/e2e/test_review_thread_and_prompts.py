"""In Chromium: a hero prompt edited on its card is what the next `Regenerate shot` generates from (the new
version records it), and a comment typed in the large view shows in its thread with its author."""

from __future__ import annotations

import sqlite3

from playwright.sync_api import Page, expect

from .helpers import (
    DIALOG,
    button,
    card,
    close_dialog,
    expect_toast,
    main_area,
    open_dialog,
    open_page,
    wait_idle,
    wait_until,
)

KITCHEN = {"id": "12", "title": "Kitchen Essentials — Cookware Refresh"}
EDITED = "Five knives fanned out on dark slate, top-down, one lemon, soft window light"


def knife_card(page: Page):
    return card(page, "KT-2 · KIT-KNIFE-SET-5")


def query(app, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(app.data_dir / "reshoot.db") as db:
        return db.execute(sql, args).fetchall()


def newest_hero_version(app) -> tuple[int, str] | None:
    rows = query(
        app,
        "SELECT v.version, v.prompt FROM imageversion v JOIN exportplanrow r ON CAST(r.id AS TEXT) = v.target_id "
        "JOIN shot s ON s.id = r.shot_pk WHERE v.target_kind = 'hero' AND s.work_item_id = '12' "
        "AND s.shot_id = 'KT-2' AND r.size_label = 'Desktop' ORDER BY v.version DESC LIMIT 1",
    )
    return rows[0] if rows else None


def test_a_hero_prompt_edited_on_its_card_is_what_regenerate_uses_and_the_version_records(page, app):
    open_page(page, f"{app.url}/work_item?id={KITCHEN['id']}", heading=KITCHEN["title"])
    knives = knife_card(page)
    button(knives, "Regenerate shot").click()
    expect_toast(page, "Lifestyle heroes regenerated", "Regenerated lifestyle heroes for KT-2.")
    wait_idle(page)
    first = newest_hero_version(app)
    assert first is not None and first[1] != EDITED

    button(knives, "Edit prompt").click()
    editor = page.get_by_label("Scene prompt")
    expect(editor).to_be_visible()
    editor.fill("")
    editor.press_sequentially(EDITED, delay=5)
    wait_until(
        lambda: query(app, "SELECT prompt FROM shot WHERE work_item_id = '12' AND shot_id = 'KT-2'")[0][0] == EDITED,
        message="the hero prompt was not saved while typing",
        timeout=15_000,
    )
    page.keyboard.press("Escape")  # closes the popover
    wait_idle(page)
    expect(knives.get_by_text("Prompt edited: regenerate to apply")).to_be_visible()

    button(knives, "Regenerate shot").click()
    wait_until(lambda: (newest_hero_version(app) or (0, ""))[0] > first[0], message="no new version", timeout=60_000)
    assert newest_hero_version(app) == (first[0] + 1, EDITED)
    wait_idle(page)
    expect(knives.get_by_text("Prompt edited: regenerate to apply")).to_have_count(0)


def test_a_comment_in_the_large_view_shows_in_the_thread_with_its_author(page, app):
    open_page(page, f"{app.url}/work_item?id=21", heading="Home Office — Compact Desk Range")
    desk = card(page, "HO-2 · OFF-CHAIR-ERGO-GRY")
    button(desk, "View larger").click()
    dialog = open_dialog(page)
    dialog.get_by_text("History and comments").click()
    wait_idle(page)
    box = dialog.get_by_label("Add a comment")
    expect(box).to_be_visible()
    box.fill("The chair's wheels are cut off at the bottom")
    dialog.get_by_text("History and comments").click()  # closed before sending: the text waits
    wait_idle(page)
    expect(box).to_have_count(0)
    dialog.get_by_text("History and comments").click()
    wait_idle(page)
    expect(box).to_have_value("The chair's wheels are cut off at the bottom")
    button(dialog, "Add comment").click()
    wait_idle(page)
    thread = page.locator(DIALOG)
    said = thread.locator("li").filter(has_text="The chair's wheels are cut off at the bottom").locator("visible=true")
    expect(said).to_have_count(1)  # in the open thread (the closed Recent changes lists it too, hidden)
    author = query(app, "SELECT author_name FROM comment ORDER BY id DESC LIMIT 1")[0][0]
    expect(said.get_by_text(author, exact=True)).to_be_visible()
    expect(thread.get_by_text("1 comment")).to_be_visible()
    expect(box).to_have_value("")
    box.fill("Crop a little wider")
    button(dialog, "Add comment").click()  # typed, then clicked without leaving the box first
    wait_idle(page)
    expect(thread.get_by_text("2 comments")).to_be_visible()
    expect(box).to_have_value("")
    close_dialog(page)
    expect(main_area(page).get_by_text("2 comments")).to_be_visible()  # the card says so too


def test_two_open_threads_each_send_only_their_own_comment(page, app):
    """The SKU Switcher shows a thread per size: Ctrl+Enter in one box (which only commits its text) and `Add comment`
    of one thread send nothing from the other's box."""
    open_page(page, f"{app.url}/sku_switcher?id=21", heading="HO-1 · OFF-DESK-120-OAK")
    threads = main_area(page).get_by_text("History and comments")
    for n in (0, 1):
        threads.nth(n).click()
        wait_idle(page)
    boxes = main_area(page).get_by_label("Add a comment")
    boxes.nth(1).fill("Mobile: not yet, still thinking")
    boxes.nth(1).press("Tab")
    boxes.nth(0).fill("Desktop: the desk edge is cut off")
    boxes.nth(0).press("Control+Enter")
    wait_idle(page)
    assert query(app, "SELECT count(*) FROM comment WHERE body LIKE 'Mobile:%'")[0][0] == 0
    button(main_area(page), "Add comment").first.click()
    wait_idle(page)
    expect(main_area(page).get_by_text("1 comment")).to_have_count(1)
    assert query(app, "SELECT body FROM comment WHERE body LIKE '%:%'") == [("Desktop: the desk edge is cut off",)]
    expect(boxes.nth(1)).to_have_value("Mobile: not yet, still thinking")
