"""The reviewer's main flows in headless Chromium against a real `streamlit run dashboard.py` on the demo set.

The demo data starts as `server.PREPARE` leaves it: work item 7 (4 shots) without images, work item 21 with its
heroes, storyboard sentence 1.1 with an image. Each test opens its own browser session. The first test opens a
deep link, because a deep link is what the first visitor of a freshly started server may well use.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from ui.navigation import work_items_key
from ui.storyboard_table import storyboard_key

from .helpers import (
    TOAST,
    button,
    card,
    close_dialog,
    dataframe,
    dataframe_cells,
    dataframe_column,
    expect_image_loaded,
    expect_toast,
    main_area,
    open_dialog,
    open_page,
    pixels,
    select_dataframe_row,
    sidebar_nav,
    toast,
    tooltip_of,
    upload_files,
    wait_idle,
    wait_until,
)
from .server import VIEWPORT

OUTDOOR = {"id": "7", "title": "Outdoor Living — Summer Patio Collection"}
OUTDOOR_SHOTS = {
    "OL-1": "PAT-TEAK-SOFA-3S",
    "OL-2": "PAT-RATTAN-LOUNGE-2",
    "OL-3": "PAT-ALU-DINING-6",
    "OL-4": "PAT-PARASOL-300",
}
DEMO_TITLES = [
    "Outdoor Living — Summer Patio Collection",
    "Kitchen Essentials — Cookware Refresh",
    "Bedroom Textiles — Autumn Linen",
    "Home Office — Compact Desk Range",
]


def hero_card(page: Page, shot_id: str):
    return card(page, f"{shot_id} · {OUTDOOR_SHOTS[shot_id]}")


def hero_image(page: Page, shot_id: str):
    """The card's preview: its <img> loads from the shot's own storage prefix (references live elsewhere)."""
    return hero_card(page, shot_id).locator(f'img[src*="/fcc/lifestyle/{OUTDOOR["id"]}/{shot_id}/"]')


def reference_thumbnails(page: Page, shot_id: str):
    """The card's reference thumbnails on screen (a button label is also drawn hidden, for measuring)."""
    return (
        hero_card(page, shot_id)
        .locator(f'img[src*="/lifestyle_refs/{OUTDOOR["id"]}/{shot_id}/"]')
        .locator("visible=true")
    )


def generate_heroes(page: Page) -> None:
    """Click `Generate Lifestyle Hero Images` on the open work item and wait for the spec's success toast."""
    main = main_area(page)
    button(main, "Generate Lifestyle Hero Images").click()
    # The cards of the shots it covers read `Regenerating…` meanwhile; this is the panel's button.
    expect(button(main, "Generating…").filter(has_not_text="Regenerating…")).to_be_disabled()
    expect_toast(
        page,
        "Lifestyle heroes generated",
        "Created 12 images across 4 shots (OL-1, OL-2, OL-3, OL-4). Validate them in SKU Switcher.",
    )
    expect(button(main, "Generate Lifestyle Hero Images")).to_be_enabled()


@pytest.fixture
def images(tmp_path) -> dict[str, Path]:
    """Two small PNGs to upload as references, and a text file that only claims to be one."""
    red, blue, fake = tmp_path / "red-sofa.png", tmp_path / "blue-lounge.png", tmp_path / "notes.png"
    Image.new("RGB", (96, 64), (200, 40, 40)).save(red)
    Image.new("RGB", (64, 96), (40, 40, 200)).save(blue)
    fake.write_text("Shot notes: warmer light, less clutter. Not an image.\n")
    return {"red": red, "blue": blue, "fake": fake}


def test_work_item_without_pack_has_a_disabled_button_with_the_seed_tooltip(page, app):
    open_page(page, f"{app.url}/work_item?id=15", heading="Bedroom Textiles — Autumn Linen")
    main = main_area(page)
    # The app's own navigation (dashboard.py), not Streamlit's listing of the pages/ folder.
    expect(sidebar_nav(page).get_by_text("SKU Switcher", exact=True)).to_be_visible()
    generate = button(main, "Generate Lifestyle Hero Images")
    expect(generate).to_be_disabled()
    expect(tooltip_of(page, generate)).to_have_text("Run Lifestyle Pack v2 first.")


def test_generate_from_the_work_items_list_shows_the_toast_and_every_hero(page, app):
    open_page(page, app.url, heading="Work Items")
    table = dataframe(page, work_items_key("table"))
    # Other modules' tests on the same server may have added work items: theirs come after the demo's (by id).
    assert dataframe_column(table, "Title")[: len(DEMO_TITLES)] == DEMO_TITLES
    shots = dict(zip(dataframe_column(table, "ID"), dataframe_column(table, "Shots"), strict=True))
    assert shots[OUTDOOR["id"]] == "4"

    select_dataframe_row(page, table, dataframe_column(table, "ID").index(OUTDOOR["id"]))
    expect(main_area(page).get_by_role("heading", name=OUTDOOR["title"])).to_be_visible()
    assert page.url.endswith(f"/work_item?id={OUTDOOR['id']}")
    wait_idle(page)
    for shot_id in OUTDOOR_SHOTS:  # placeholders naming the file until there is an image
        expect(hero_card(page, shot_id).get_by_text(f"fcc/lifestyle/7/{shot_id}/desktop.png")).to_be_visible()

    generate_heroes(page)
    for shot_id in OUTDOOR_SHOTS:
        expect_image_loaded(hero_image(page, shot_id), what=f"{shot_id}'s hero")


def test_references_then_regenerate_shot_changes_the_image_and_compares_v1_v2(page, app, images):
    open_page(page, f"{app.url}/work_item?id={OUTDOOR['id']}", heading=OUTDOOR["title"])
    placeholder = hero_card(page, "OL-2").locator('[aria-label^="No image yet"]')
    wait_until(lambda: hero_image(page, "OL-2").count() + placeholder.count() > 0, message="OL-2's card never rendered")
    if placeholder.count():  # run alone: make version 1 first
        generate_heroes(page)
    before = expect_image_loaded(hero_image(page, "OL-2"), what="OL-2's hero")
    ol2 = hero_card(page, "OL-2")
    expect(reference_thumbnails(page, "OL-2")).to_have_count(0)

    with page.expect_file_chooser() as chooser:  # one click: the picker opens with the popover
        button(ol2, "Upload reference").click()
    chooser.value.set_files([str(images["red"]), str(images["blue"])])
    expect_toast(page, "Reference images saved", "Saved 2 reference images for OL-2.")
    expect(page.locator('[data-testid="stPopoverBody"]')).to_have_count(0)  # the popover closed after the upload
    expect(reference_thumbnails(page, "OL-2")).to_have_count(2)
    for index in range(2):
        expect_image_loaded(reference_thumbnails(page, "OL-2").nth(index), what="a reference thumbnail")

    button(ol2, "Regenerate shot").click()  # the offline renderer ends within the click's own wait: no busy phase
    expect_toast(
        page, "Lifestyle heroes regenerated", "Regenerated lifestyle heroes for OL-2. Validate in SKU Switcher."
    )
    expect(button(ol2, "Regenerate shot")).to_be_enabled()
    wait_until(
        lambda: hero_image(page, "OL-2").get_attribute("src") not in (None, before),
        message="OL-2's card never showed a new image",
    )
    after = expect_image_loaded(hero_image(page, "OL-2"), what="OL-2's new hero")
    assert pixels(page, after) != pixels(page, before)

    button(ol2, "Compare v1 / v2").click()
    dialog = open_dialog(page)
    expect(dialog.get_by_text("v1", exact=True)).to_be_visible()
    expect(dialog.get_by_text("v2", exact=True)).to_be_visible()
    shown = dialog.locator("img")
    expect(shown).to_have_count(2)
    sources = [expect_image_loaded(shown.nth(i), what="a compared version") for i in range(2)]
    assert ".v1-" in sources[0] and ".v2-" in sources[1], sources
    close_dialog(page)


def _stored_files(data_dir: Path) -> set[str]:
    return {str(p.relative_to(data_dir)) for p in (data_dir / "media").rglob("*") if p.is_file()}


def _reference_rows(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "reshoot.db") as db:
        return db.execute("SELECT count(*) FROM reference").fetchone()[0]


def test_a_text_file_named_png_is_refused_and_nothing_is_stored(page, app, images):
    open_page(page, f"{app.url}/work_item?id={OUTDOOR['id']}", heading=OUTDOOR["title"])
    files_before, rows_before = _stored_files(app.data_dir), _reference_rows(app.data_dir)
    ol3 = hero_card(page, "OL-3")
    expect(reference_thumbnails(page, "OL-3")).to_have_count(0)

    button(ol3, "Upload reference").click()
    upload_files(page, page.locator('[data-testid="stPopoverBody"]'), [images["fake"]])
    refused = page.locator(TOAST).filter(has_text="Couldn’t save reference images")
    expect(refused).to_be_visible()
    expect(refused).to_contain_text("notes.png")
    expect(page.locator(TOAST).filter(has_text="Reference images saved")).to_have_count(0)
    wait_idle(page)
    expect(reference_thumbnails(page, "OL-3")).to_have_count(0)
    assert _stored_files(app.data_dir) == files_before
    assert _reference_rows(app.data_dir) == rows_before


def saved_prompt(app, sentence_id: str) -> str:
    with sqlite3.connect(app.data_dir / "reshoot.db") as db:
        return db.execute("SELECT image_prompt FROM sentence WHERE id = ?", (sentence_id,)).fetchone()[0]


def test_storyboard_prompt_saves_while_typing_and_another_session_and_a_reload_see_it(page, app, browser):
    open_page(page, f"{app.url}/storyboard", heading="Storyboard")
    table = dataframe(page, storyboard_key("table", "coffee-origins"))
    first = dataframe_cells(table, 1).index("1.1")
    select_dataframe_row(page, table, first, row_height=64)
    main = main_area(page)
    expect(main.get_by_role("heading", name="Scene 1.1")).to_be_visible()
    assert "sentence=sent_001" in page.url and "project=coffee-origins" in page.url  # a link to send
    dirty = main.get_by_text("Prompt changed. Regenerate to update image.")
    expect(dirty).to_have_count(0)

    prompt = main.get_by_label("Image Prompt")
    prompt.click()
    prompt.press("Control+End")
    added = ", lanterns in the rows"
    before = prompt.input_value()
    prompt.press_sequentially(added, delay=30)  # typing; the field keeps the focus (no blur, no Ctrl+Enter)
    edited = before + added
    expect(main.get_by_text(f"{len(edited)} characters", exact=True)).to_be_visible()
    wait_until(
        lambda: saved_prompt(app, "sent_001") == edited, message="the prompt was not saved while typing", timeout=10_000
    )
    expect(dirty).to_be_visible()
    assert prompt.evaluate("el => el.getRootNode().activeElement === el"), "the save took the focus away"

    other = browser.new_context(viewport=VIEWPORT).new_page()  # a second session, opened from the link
    try:
        open_page(other, page.url, heading="Storyboard")
        expect(main_area(other).get_by_label("Image Prompt")).to_have_value(edited)
        expect(main_area(other).get_by_text("Prompt changed. Regenerate to update image.")).to_be_visible()
    finally:
        other.context.close()

    page.reload()
    wait_idle(page)
    expect(main.get_by_label("Image Prompt")).to_have_value(edited)  # the link reopens the same sentence


def test_storyboard_seed_in_the_field_is_used_and_shown_after_the_run(page, app):
    open_page(page, f"{app.url}/storyboard?project=coffee-origins&sentence=sent_001", heading="Storyboard")
    main = main_area(page)
    expect(main.get_by_role("heading", name="Scene 1.1")).to_be_visible()
    preview = main.locator('[data-testid="stTabs"] [data-testid="stImage"] img').first
    before = expect_image_loaded(preview, what="the scene image")

    seed = main.get_by_role("textbox", name="Seed")
    seed.fill("42")
    seed.press("Enter")
    wait_idle(page)
    button(main, "Regenerate Image").click()
    expect(main.get_by_text("Seed 42", exact=True)).to_be_visible()
    toast_box = page.locator(TOAST).first.bounding_box()
    title_box = main.get_by_role("heading", name="Storyboard", exact=True).bounding_box()
    assert toast_box["y"] > title_box["y"] + title_box["height"], "the toast covers the page title"
    expect(main.get_by_text("Prompt changed. Regenerate to update image.")).to_have_count(0)
    wait_until(lambda: preview.get_attribute("src") not in (None, before), message="the scene image never changed")
    after = expect_image_loaded(preview, what="the regenerated scene image")
    assert pixels(page, after) != pixels(page, before)
    expect(seed).to_have_value("42")

    button(main, "Regenerate with new seed").click()
    wait_until(lambda: seed.input_value() not in ("", "42"), message="the field never showed the new seed")
    expect(main.get_by_text(f"Seed {seed.input_value()}", exact=True)).to_be_visible()
    assert expect_image_loaded(preview, what="the image from a new seed") != after


def test_large_view_dialog_opens_full_size_and_closes(page, app):
    open_page(page, f"{app.url}/work_item?id=21", heading="Home Office — Compact Desk Range")
    desk = card(page, "HO-1 · OFF-DESK-120-OAK")
    expect_image_loaded(desk.locator('img[src*="/fcc/lifestyle/21/HO-1/"]'), what="HO-1's thumbnail")
    button(desk, "View larger").click()
    dialog = open_dialog(page)
    expect(dialog.get_by_text("fcc/lifestyle/21/HO-1/desktop.png")).to_be_visible()
    full = dialog.locator('img[src*="/fcc/lifestyle/21/HO-1/"]')
    expect_image_loaded(full, what="the full-size hero")
    assert full.evaluate("img => img.naturalWidth") == 1920  # the original, not the 512 px thumbnail
    close_dialog(page)
    expect(desk).to_be_visible()


def test_sku_switcher_approval_is_counted_on_the_work_items_list(page, app):
    open_page(page, f"{app.url}/sku_switcher?id=21", heading="HO-1 · OFF-DESK-120-OAK")
    main = main_area(page)
    for size in ("Desktop", "Tablet", "Mobile"):
        expect_image_loaded(main.get_by_role("img", name=f"{size} hero"), what=f"the {size} hero")
    desktop = card(page, "Desktop", has=button(page, "Approve"))
    expect(desktop.get_by_text("Pending · v1")).to_be_visible()
    note = desktop.get_by_placeholder("Optional note")
    note.fill("Lamp too bright")
    note.press("Enter")
    wait_idle(page)
    button(desktop, "Approve").click()
    expect(desktop.get_by_text("Approved · v1")).to_be_visible()
    expect(button(desktop, "Approve")).to_be_disabled()
    expect(note).to_have_value("")  # the note went with the decision; the box is empty for the next one

    sidebar_nav(page).get_by_text("Work Items", exact=True).click()
    expect(main.get_by_role("heading", name="Work Items", exact=True)).to_be_visible()
    wait_idle(page)
    table = dataframe(page, work_items_key("table"))
    row = dataframe_column(table, "ID").index("21")
    assert dataframe_column(table, "Approved")[row] == "1"
    assert dataframe_column(table, "Pending")[row] == "5"


def test_a_second_regenerate_of_the_same_card_shows_its_own_toast(page, app):
    """Seconds apart, two `Regenerate shot` on one card: each ends with a toast on screen. (Streamlit's frontend
    keeps a visible toast when an identical one comes from the same place in the page: the second was lost.)"""
    open_page(page, f"{app.url}/work_item?id={OUTDOOR['id']}", heading=OUTDOOR["title"])
    ol4 = hero_card(page, "OL-4")
    words = ("Lifestyle heroes regenerated", "Regenerated lifestyle heroes for OL-4. Validate in SKU Switcher.")
    button(ol4, "Regenerate shot").click()
    expect_toast(page, *words)
    toast(page, *words).evaluate("element => element.dataset.firstToast = 'yes'")
    button(ol4, "Regenerate shot").click()
    expect(page.locator(f"{TOAST}:not([data-first-toast])").filter(has_text=words[1])).to_be_visible()
