"""POST/GET/DELETE …/lifestyle-hero-references (spec 000): multipart under `files` and `files[]`, all or nothing."""

from __future__ import annotations

import httpx
import pytest

from services.config import get_settings
from services.storage import get_storage

URL = "/api/work-items/7/lifestyle-hero-references"


def upload(client, files, *, field="files", shot_id="OL-2", work_item_id="7", url=URL):
    data = {k: v for k, v in (("shotId", shot_id), ("workItemId", work_item_id)) if v is not None}
    return client.post(url, data=data, files=[(field, f) for f in files])


def stored_reference_keys() -> list[str]:
    return get_storage().list("fcc/lifestyle_refs")


def test_one_file_under_files(client, demo, png):
    r = upload(client, [("inspo.png", png("red"), "image/png")])
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is True and body["shotId"] == "OL-2" and len(body["references"]) == 1
    ref = body["references"][0]
    assert ref["id"].startswith("ref_") and ref["filename"] == f"{ref['id']}.png"
    assert ref["url"] == f"/assets/fcc/lifestyle_refs/7/OL-2/{ref['id']}.png"
    image = client.get(ref["url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"


def test_three_files_under_files_brackets(client, demo, png):
    files = [(f"ref{i}.png", png(c), "image/png") for i, c in enumerate(("red", "green", "blue"))]
    r = upload(client, files, field="files[]")
    assert r.status_code == 200 and len(r.json()["references"]) == 3
    listed = client.get(URL, params={"shotId": "OL-2"}).json()
    assert listed["ok"] is True and [x["id"] for x in listed["references"]] == [x["id"] for x in r.json()["references"]]
    assert all(client.get(x["url"]).status_code == 200 for x in listed["references"])


def test_a_bad_file_among_good_ones_stores_nothing(client, demo, png):
    files = [
        ("good1.png", png("red"), "image/png"),
        ("notes.png", b"just some text, not an image", "image/png"),
        ("good2.png", png("blue"), "image/png"),
    ]
    r = upload(client, files)
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "INVALID_IMAGE"
    assert body["details"]["filename"] == "notes.png" and body["details"]["reason"]
    assert stored_reference_keys() == []
    assert client.get(URL, params={"shotId": "OL-2"}).json()["references"] == []


def test_an_oversized_file_is_named_and_not_read_whole(client, demo, png, monkeypatch):
    monkeypatch.setenv("RESHOOT_MAX_UPLOAD_MB", "1")
    get_settings.cache_clear()
    r = upload(
        client, [("ok.png", png(), "image/png"), ("huge.png", b"\x89PNG" + b"\0" * (2 * 1024 * 1024), "image/png")]
    )
    assert r.status_code == 400
    assert r.json()["error"] == "INVALID_IMAGE" and r.json()["details"]["filename"] == "huge.png"
    assert stored_reference_keys() == []


def test_a_body_larger_than_any_allowed_upload_is_413(client, demo, monkeypatch):
    monkeypatch.setenv("RESHOOT_MAX_UPLOAD_REQUEST_MB", "1")
    get_settings.cache_clear()
    r = client.post(URL, content=b"x" * (3 * 1024 * 1024), headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert r.status_code == 413 and r.json()["error"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"shot_id": None}, "shotId"), ({"shot_id": "  "}, "shotId"), ({"work_item_id": "12"}, "workItemId")],
)
def test_bad_form_fields_are_invalid_request(client, demo, png, kwargs, field):
    r = upload(client, [("a.png", png(), "image/png")], **kwargs)
    assert r.status_code == 400 and r.json()["error"] == "INVALID_REQUEST"
    assert field in {d["field"] for d in r.json()["details"]}
    assert stored_reference_keys() == []


def test_no_files_is_invalid_request(client, demo):
    r = client.post(URL, data={"shotId": "OL-2", "workItemId": "7"})
    assert r.status_code == 400 and r.json()["details"] == [
        {"field": "files", "message": "At least one file is required"}
    ]


def test_text_under_files_is_invalid_request(client, demo):
    r = client.post(URL, data={"shotId": "OL-2", "files": "not a file"}, files=[("other", ("x.txt", b"x"))])
    assert r.status_code == 400 and r.json()["details"][0]["field"] == "files"


def test_json_instead_of_multipart_is_invalid_request(client, demo):
    r = client.post(URL, json={"shotId": "OL-2"})
    assert r.status_code == 400 and r.json()["error"] == "INVALID_REQUEST"


def test_unknown_shot_and_work_item_are_404(client, demo, png):
    r = upload(client, [("a.png", png(), "image/png")], shot_id="OL-9")
    assert r.status_code == 404 and r.json()["error"] == "SHOT_NOT_FOUND"
    r = upload(
        client, [("a.png", png(), "image/png")], work_item_id=None, url="/api/work-items/nope/lifestyle-hero-references"
    )
    assert r.status_code == 404 and r.json()["error"] == "WORK_ITEM_NOT_FOUND"
    assert stored_reference_keys() == []


def test_list_all_and_by_shot(client, demo, png):
    upload(client, [("a.png", png("red"), "image/png")], shot_id="OL-1")
    upload(client, [("b.png", png("blue"), "image/png")], shot_id="OL-2")
    assert len(client.get(URL).json()["references"]) == 2
    only = client.get(URL, params={"shotId": "OL-1"}).json()
    assert only["shotId"] == "OL-1" and len(only["references"]) == 1


def test_delete_removes_the_reference_and_its_files(client, demo, png):
    ref = upload(client, [("a.png", png(), "image/png")]).json()["references"][0]
    r = client.delete(f"{URL}/{ref['id']}")
    assert r.status_code == 200 and r.json() == {"ok": True, "id": ref["id"]}
    assert client.get(URL, params={"shotId": "OL-2"}).json()["references"] == []
    assert client.get(ref["url"]).status_code == 404 and stored_reference_keys() == []
    again = client.delete(f"{URL}/{ref['id']}")
    assert again.status_code == 404 and again.json()["error"] == "REFERENCE_NOT_FOUND"


def test_delete_through_another_work_item_is_404(client, demo, png):
    ref = upload(client, [("a.png", png(), "image/png")]).json()["references"][0]
    r = client.delete(f"/api/work-items/12/lifestyle-hero-references/{ref['id']}")
    assert r.status_code == 404 and r.json()["error"] == "REFERENCE_NOT_FOUND"
    assert len(client.get(URL).json()["references"]) == 1


def test_on_s3_urls_are_presigned_and_assets_redirect_to_them(s3_env, demo, png):
    from fastapi.testclient import TestClient

    from services.api import create_app

    with TestClient(create_app()) as client:
        ref = upload(client, [("a.png", png("green"), "image/png")]).json()["references"][0]
        key = f"fcc/lifestyle_refs/7/OL-2/{ref['filename']}"
        redirect = client.get(f"/assets/{key}", follow_redirects=False)
    assert ref["url"].startswith(s3_env["endpoint"]) and "Signature" in ref["url"]
    assert redirect.status_code == 307 and redirect.headers["location"].startswith(s3_env["endpoint"])
    for url in (ref["url"], redirect.headers["location"]):
        image = httpx.get(url, timeout=10)
        assert image.status_code == 200 and image.content[:8] == b"\x89PNG\r\n\x1a\n"
