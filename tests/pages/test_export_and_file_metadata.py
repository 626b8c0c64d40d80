"""Work Item page: `Export approved (ZIP)` is built only when clicked; the large view's `File metadata` reads the
text chunks inside the hero's file only while open."""

from __future__ import annotations

import io
import json
import zipfile

from services import versions
from services.identity import Actor, Role, acting_as
from services.read_models.review_queue import ReviewQueueFilter
from tests.pages.conftest import open_page
from tests.pages.test_work_item import DETAIL, regenerate
from ui import export_button, file_metadata
from ui.hero_state import card_key

ANA = Actor("ana@example.com", "Ana", Role.reviewer)


def test_export_button_builds_the_zip_only_when_clicked(demo, monkeypatch):
    calls = []
    real = export_button.export_approved
    monkeypatch.setattr(export_button, "export_approved", lambda **kw: calls.append(kw) or real(**kw))
    at = open_page(DETAIL, id="12")
    regenerate(at, "KT-2")
    [button] = [e for e in at.get("download_button") if e.proto.id.endswith(export_button.export_key("12"))] or [None]
    assert button is not None and button.proto.label == "Export approved (ZIP)"
    assert button.proto.deferred_file_id and not button.proto.url  # nothing built during the run
    assert calls == []

    row = next(r for r in versions.review_queue(only=ReviewQueueFilter(work_item_id="12")) if r.shot_id == "KT-2")
    with acting_as(ANA):
        versions.set_review(version_id=row.version_id, options=versions.ReviewDecisionOptions(state="approved"))
    data = export_button.approved_zip("12", ANA)  # what the click's deferred download runs
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert row.filename in archive.namelist() and calls == [{"work_item_id": "12"}]
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["exportedBy"] == "Ana" and {e["status"] for e in manifest["entries"]} >= {"approved", "no image"}


def test_large_view_shows_file_metadata_when_opened(demo, monkeypatch):
    reads = []
    real = file_metadata.file_metadata
    monkeypatch.setattr(file_metadata, "file_metadata", lambda version_id: reads.append(version_id) or real(version_id))
    at = open_page(DETAIL, id="12")
    regenerate(at, "KT-2")
    at.button(key=card_key("view", "12", "KT-2")).click().run()
    assert [e.label for e in at.expander if e.label == "File metadata"] and reads == []  # closed: no file read
    at.session_state[card_key("file_metadata", "12", "KT-2")] = True
    # AppTest reruns the page (closing the dialog): reopen it
    at.button(key=card_key("view", "12", "KT-2")).click().run()
    assert not at.exception and len(reads) == 1
    shown = "\n".join(c.value for c in at.code)
    record = json.loads(next(c.value for c in at.code if c.language == "json"))
    assert record["shotId"] == "KT-2" and record["workItemId"] == "12" and record["sizeLabel"] == "Desktop"
    assert f"Seed: {record['seed']}" in shown and "Backend: local" in shown
