"""Text PostgreSQL refuses (NUL, unpaired surrogates) is a 400 INVALID_REQUEST naming the field, never a 500
DataError: over the API on a real PostgreSQL, and in the use cases the dashboard and CLI call."""

from __future__ import annotations

import pytest

from services.errors import ReshootError


def refused(response, field: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "INVALID_REQUEST"
    assert field in {d["field"] for d in body["details"]}, body


def a_sentence_id(client) -> str:
    project = client.get("/api/v1/projects").json()["projects"][0]["id"]
    storyboard = client.get(f"/api/v1/projects/{project}").json()
    return next(s["id"] for section in storyboard["sections"] for s in section["sentences"])


def multipart(parts: list[tuple[str, bytes | None, bytes]]) -> tuple[bytes, dict[str, str]]:
    """A multipart/form-data body written by hand: (field, raw filename or None, content) — httpx would
    percent-encode a NUL in a filename, a raw client need not."""
    boundary = b"reshoot-test-boundary"
    body = b""
    for name, filename, content in parts:
        disposition = b'form-data; name="' + name.encode() + b'"'
        if filename is not None:
            disposition += b'; filename="' + filename + b'"'
        body += b"--" + boundary + b"\r\nContent-Disposition: " + disposition + b"\r\n\r\n" + content + b"\r\n"
    return body + b"--" + boundary + b"--\r\n", {"Content-Type": f"multipart/form-data; boundary={boundary.decode()}"}


def test_a_nul_in_a_filename_is_refused(pg_client, png):
    body, headers = multipart(
        [("shotId", None, b"OL-1"), ("files", b"fine.png", png("red")), ("files", b"in\x00spo.png", png("blue"))]
    )
    r = pg_client.post("/api/work-items/7/lifestyle-hero-references", content=body, headers=headers)
    refused(r, "files.1.filename")
    assert pg_client.get("/api/work-items/7/lifestyle-hero-references").json()["references"] == []


@pytest.mark.parametrize("prompt", ["a kitchen\x00 at dawn", "\ud800 lone surrogate"])
def test_a_prompt_with_text_postgresql_refuses_is_refused(pg_client, prompt):
    sentence_id = a_sentence_id(pg_client)
    before = pg_client.get(f"/api/v1/sentences/{sentence_id}").json()["imagePrompt"]
    escaped = prompt.replace("\x00", "\\u0000").replace("\ud800", "\\ud800")
    raw = f'{{"imagePrompt": "{escaped}"}}'
    refused(pg_client.put(f"/api/v1/sentences/{sentence_id}", content=raw), "imagePrompt")
    assert pg_client.get(f"/api/v1/sentences/{sentence_id}").json()["imagePrompt"] == before


def test_a_nul_in_a_search_is_refused(pg_client):
    refused(pg_client.get("/api/work-items", params={"search": "kitchen\x00"}), "search")
    assert pg_client.get("/api/work-items", params={"search": "Kitchen"}).json()["total"] == 1


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/work-items/7%00", "work_item_id"),
        ("/api/v1/jobs/job_%00", "job_id"),
        ("/api/v1/sentences/sent%00", "sentence_id"),
        ("/api/work-items/7/lifestyle-hero-references?shotId=OL%001", "shotId"),
    ],
)
def test_a_nul_in_an_id_is_refused(pg_client, path, field):
    refused(pg_client.get(path), field)


def test_a_nul_in_json_options_is_refused(pg_client):
    r = pg_client.post(
        "/api/work-items/7/generate-lifestyle-heroes", json={"shotIds": ["OL-1", "OL\x002"], "dryRun": True}
    )
    refused(r, "shotIds.1")


def test_use_cases_refuse_it_too_naming_the_field(pg_demo, png):
    """What the dashboard's forms and the CLI call: the same 400, with a message a page can show."""
    from services import lifestyle, storyboard, work_items

    with pytest.raises(ReshootError) as search:
        work_items.list_work_items(search="a\x00b")
    assert (search.value.code, search.value.details[0]["field"]) == ("INVALID_REQUEST", "search")
    assert "NUL" in search.value.message

    project_id = storyboard.list_projects()[0].id
    sentence_id = storyboard.get_storyboard(project_id).sections[0].sentences[0].id
    with pytest.raises(ReshootError) as prompt:
        storyboard.update_sentence(
            sentence_id=sentence_id, options=storyboard.UpdateSentenceOptions(image_prompt="x\x00")
        )
    assert prompt.value.details[0]["field"] == "imagePrompt"

    # No use-case check of its own here: the database layer's net names the column.
    with pytest.raises(ReshootError) as upload:
        lifestyle.add_references(
            work_item_id="7", options=lifestyle.ReferenceUpload(shot_id="OL-1", files=[("bad\x00name.png", png())])
        )
    assert (upload.value.status, upload.value.details[0]["field"]) == (400, "filename")
    assert lifestyle.list_references("7", "OL-1") == []
