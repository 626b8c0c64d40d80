"""Settings page: what is in use and whether it answers; import with the importer's own messages."""

from __future__ import annotations

import json

from services.config import get_settings
from services.work_items import get_work_item
from tests.pages.conftest import open_page, texts

PAGE = "pages/settings.py"


def test_shows_each_component_and_its_state(demo):
    at = open_page(PAGE)
    shown = texts(at)
    for line in ("**Database**", "**Storage**", "**Queue**", "**Image backend**", "Readable and writable",
                 "Offline renderer (not AI): always available", "Connected; schema at revision"):
        assert line in shown
    assert str(get_settings().data_dir) in shown


def test_missing_openai_key_is_said_plainly(demo, monkeypatch):
    monkeypatch.setenv("RESHOOT_IMAGE_BACKEND", "openai")
    get_settings.cache_clear()
    at = open_page(PAGE)
    assert "The OpenAI backend needs an API key: set OPENAI\\_API\\_KEY" in texts(at), [c.value for c in at.caption]
    assert not at.exception


def test_import_json_and_csv_and_show_validation_messages(demo):
    at = open_page(PAGE)
    document = {"workItems": [{"id": "99", "title": "Imported", "status": "open", "lifestylePack": {"version": "v2",
                "exportPlan": [{"shot_id": "X-1", "sku": "SKU-X", "size_label": "Desktop", "width": 1920, "height": 800,
                                "filename": "fcc/lifestyle/99/X-1/desktop.png"}]}}]}
    at.file_uploader[0].set_value(("items.json", json.dumps(document).encode(), "application/json")).run()
    at.button(key="settings_import_button").click().run()
    assert "Imported 1 work item, 1 Lifestyle Pack, 1 shot and 1 export plan row." in texts(at)
    assert get_work_item("99")["shots"][0]["shot_id"] == "X-1"

    csv = b"shot_id,sku,size_label,width,height,filename\nX-1,SKU-X,Mobile,750,1000,fcc/lifestyle/99/X-1/mobile.png\n"
    at.file_uploader[0].set_value(("plan.csv", csv, "text/csv")).run()
    at.text_input(key="settings_import_work_item").input("99").run()
    at.button(key="settings_import_button").click().run()
    assert "Imported 1 export plan row." in texts(at)
    assert [r["size_label"] for r in get_work_item("99")["shots"][0]["rows"]] == ["Desktop", "Mobile"]

    bad = b"shot_id,sku,size_label,width,height,filename\nX-2,SKU-Y,Mobile,wide,1000,fcc/lifestyle/99/X-2/mobile.png\n"
    at.file_uploader[0].set_value(("plan.csv", bad, "text/csv")).run()
    at.button(key="settings_import_button").click().run()
    assert any("Nothing was imported" in e.value for e in at.error)
    assert "line 2" in texts(at) and "width" in texts(at)
    assert len(get_work_item("99")["shots"]) == 1

    at.file_uploader[0].set_value(("broken.json", b'{"workItems": [', "application/json")).run()
    at.button(key="settings_import_button").click().run()
    assert "invalid JSON" in texts(at)
