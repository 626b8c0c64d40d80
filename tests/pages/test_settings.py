"""Settings page: what is in use and whether it answers; import with the importer's own messages."""

from __future__ import annotations

import json

from services.config import get_settings
from services.work_items import get_work_item
from tests.pages.conftest import open_page, texts
from ui.import_panel import import_key

PAGE = "pages/settings.py"


def test_shows_each_component_and_its_state(demo):
    at = open_page(PAGE)
    shown = texts(at)
    for line in (
        "**Database**",
        "**Storage**",
        "**Queue**",
        "**Image backend**",
        "Readable and writable",
        "Offline renderer (not AI): always available",
        "Connected; schema at revision",
    ):
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
    document = {
        "workItems": [
            {
                "id": "99",
                "title": "Imported",
                "status": "open",
                "lifestylePack": {
                    "version": "v2",
                    "exportPlan": [
                        {
                            "shot_id": "X-1",
                            "sku": "SKU-X",
                            "size_label": "Desktop",
                            "width": 1920,
                            "height": 800,
                            "filename": "fcc/lifestyle/99/X-1/desktop.png",
                        }
                    ],
                },
            }
        ]
    }
    at.file_uploader[0].set_value(("items.json", json.dumps(document).encode(), "application/json")).run()
    at.button(key=import_key("button")).click().run()
    assert "Imported 1 work item, 1 Lifestyle Pack, 1 shot and 1 export plan row." in texts(at)
    assert get_work_item("99").shots[0].shot_id == "X-1"

    csv = b"shot_id,sku,size_label,width,height,filename\nX-1,SKU-X,Mobile,750,1000,fcc/lifestyle/99/X-1/mobile.png\n"
    at.file_uploader[0].set_value(("plan.csv", csv, "text/csv")).run()
    at.text_input(key=import_key("work_item")).input("99").run()
    at.button(key=import_key("button")).click().run()
    assert "Imported 1 export plan row." in texts(at)
    assert [r.size_label for r in get_work_item("99").shots[0].rows] == ["Desktop", "Mobile"]

    bad = b"shot_id,sku,size_label,width,height,filename\nX-2,SKU-Y,Mobile,wide,1000,fcc/lifestyle/99/X-2/mobile.png\n"
    at.file_uploader[0].set_value(("plan.csv", bad, "text/csv")).run()
    at.button(key=import_key("button")).click().run()
    assert any("Nothing was imported" in e.value for e in at.error)
    assert "line 2" in texts(at) and "width" in texts(at)
    assert len(get_work_item("99").shots) == 1

    at.file_uploader[0].set_value(("broken.json", b'{"workItems": [', "application/json")).run()
    at.button(key=import_key("button")).click().run()
    assert "invalid JSON" in texts(at)


def test_workers_alive_and_what_they_generate(demo, fake_backend, monkeypatch):
    import time

    from services import jobs, status, storyboard

    # The slow fake backend is not a configured one: the page's backend check is not what this test is about.
    monkeypatch.setattr(status, "backend_status", lambda: status._status("Image backend", "fake", True, "test double"))
    fake_backend.delay = 1.5
    open_page(PAGE)  # the dashboard starts its own job threads (the SQLite queue's default)
    worker_id = jobs.start_embedded_worker()  # the same consumer: started once per process
    storyboard.regenerate_sentence_image(sentence_id="sent_001")
    deadline = time.monotonic() + 20
    while not (jobs.list_workers() and jobs.list_workers()[0].running):
        assert time.monotonic() < deadline, "the worker did not start the job"
        time.sleep(0.05)
    at = open_page(PAGE)
    [table] = at.dataframe
    row = table.value.iloc[0]
    assert (row["Worker"], row["Generating now"], row["Threads"]) == (
        worker_id,
        "sentence:sent_001",
        get_settings().generation_concurrency,
    )
    assert (
        row["Runs as"] == "dashboard / API threads"
        and row["Heartbeat"].endswith(" s ago")
        and "Job threads in this dashboard: on" in texts(at)
    )


def test_with_embedded_workers_off_and_none_elsewhere_the_page_says_jobs_wait(demo, monkeypatch):
    monkeypatch.setenv("RESHOOT_EMBEDDED_WORKERS", "0")
    get_settings.cache_clear()
    at = open_page(PAGE)
    shown = texts(at)
    assert "No worker is alive on this queue" in shown and "Job threads in this dashboard: off" in shown
