"""In Chromium: `Export approved (ZIP)` downloads the ZIP the manifest describes, and the large view's
`File metadata` shows what is written inside the hero's file."""

from __future__ import annotations

import json
import os
import zipfile

from playwright.sync_api import Page, expect

from .helpers import button, card, expect_image_loaded, main_area, open_dialog, open_page, wait_idle

HOME_OFFICE = "Home Office — Compact Desk Range"
SHOTS_DIR = os.environ.get("RESHOOT_E2E_SHOTS")  # where to keep screenshots to look at (unset: not kept)


def _screenshot(page: Page, name: str) -> None:
    if SHOTS_DIR:
        for width in (1440, 1024):
            page.set_viewport_size({"width": width, "height": 900})
            wait_idle(page)
            page.screenshot(path=os.path.join(SHOTS_DIR, f"{name}-{width}.png"))
        page.set_viewport_size({"width": 1440, "height": 900})


def test_export_button_downloads_the_approved_zip_with_its_manifest(page, app, tmp_path):
    open_page(page, f"{app.url}/work_item?id=21", heading=HOME_OFFICE)
    export = button(main_area(page), "Export approved (ZIP)")
    expect(export).to_be_visible()
    _screenshot(page, "work-item-export")
    with page.expect_download() as download:
        export.click()
    assert download.value.suggested_filename == "work-item-21-approved.zip"
    path = tmp_path / "export.zip"
    download.value.save_as(path)
    archive = zipfile.ZipFile(path)
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["workItemId"] == "21" and len(manifest["entries"]) == 6  # 2 shots × 3 sizes, approved or not
    assert {e["status"] for e in manifest["entries"]} <= {"approved", "not approved"}
    approved = [e["filename"] for e in manifest["entries"] if e["status"] == "approved"]
    assert archive.namelist() == [*approved, "manifest.json", "manifest.csv"]


def test_large_view_file_metadata_shows_the_generation_parameters(page, app):
    open_page(page, f"{app.url}/work_item?id=21", heading=HOME_OFFICE)
    desk = card(page, "HO-1 · OFF-DESK-120-OAK")
    expect_image_loaded(desk.locator('img[src*="/fcc/lifestyle/21/HO-1/"]'), what="HO-1's thumbnail")
    button(desk, "View larger").click()
    dialog = open_dialog(page)
    dialog.get_by_text("File metadata").click()
    expect(dialog.get_by_text("Shot: HO-1", exact=False).first).to_be_visible()
    expect(dialog.get_by_text('"sizeLabel": "Desktop"', exact=False).first).to_be_visible()
    dialog.get_by_text("Shot: HO-1", exact=False).first.scroll_into_view_if_needed()
    _screenshot(page, "large-view-file-metadata")
