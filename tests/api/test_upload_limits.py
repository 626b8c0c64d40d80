"""References stored once per image and shot (also under parallel uploads on PostgreSQL), at most N per shot, and
uploads bounded before their bodies are read: file count, bytes per request (declared or chunked), nothing in temp."""

from __future__ import annotations

import asyncio
import io
import tempfile
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from services import lifestyle
from services.config import get_settings
from services.errors import ReshootError
from services.storage import get_storage

URL = "/api/work-items/7/lifestyle-hero-references"


def upload(client, files, shot_id="OL-1"):
    return client.post(
        URL, data={"shotId": shot_id}, files=[("files", (name, data, "image/png")) for name, data in files]
    )


def stored_files() -> list[str]:
    return get_storage().list("fcc/lifestyle_refs")


def test_parallel_identical_uploads_on_postgresql_store_each_image_once(pg_client, png):
    images = [("a.png", png("red")), ("b.png", png("blue"))]
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: upload(pg_client, images), range(20)))
    assert {r.status_code for r in answers} == {200}, {r.text for r in answers if r.status_code != 200}
    listed = pg_client.get(URL, params={"shotId": "OL-1"}).json()["references"]
    assert len(listed) == 2
    assert all({ref["id"] for ref in r.json()["references"]} == {ref["id"] for ref in listed} for r in answers)
    assert len(stored_files()) == 4  # each image and its thumbnail once: the losers' files were removed


def test_identical_files_in_one_request_are_stored_once(client, demo, png):
    r = upload(client, [("a.png", png("red")), ("copy-of-a.png", png("red")), ("b.png", png("blue"))])
    assert r.status_code == 200 and len(r.json()["references"]) == 2
    assert len(client.get(URL, params={"shotId": "OL-1"}).json()["references"]) == 2


def test_a_shot_holds_at_most_the_configured_number_of_references(client, demo, png, monkeypatch):
    monkeypatch.setenv("RESHOOT_MAX_REFERENCES_PER_SHOT", "2")
    get_settings.cache_clear()
    assert upload(client, [("a.png", png("red"))]).status_code == 200
    r = upload(client, [("b.png", png("blue")), ("c.png", png("green"))])
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "TOO_MANY_REFERENCES"
    assert body["details"] == {"shotId": "OL-1", "maxReferences": 2, "existing": 1, "adding": 2}
    assert len(client.get(URL, params={"shotId": "OL-1"}).json()["references"]) == 1
    assert len(stored_files()) == 2  # only the first image and its thumbnail
    assert upload(client, [("b.png", png("blue")), ("a-again.png", png("red"))]).status_code == 200  # fits: a is there
    full = upload(client, [("c.png", png("green"))])
    assert full.status_code == 409 and full.json()["details"]["existing"] == 2


def test_more_files_than_allowed_is_refused_by_the_parser(client, demo, png, monkeypatch):
    monkeypatch.setenv("RESHOOT_MAX_UPLOAD_FILES", "3")
    get_settings.cache_clear()
    r = upload(client, [(f"{i}.png", png()) for i in range(4)])
    assert r.status_code == 400 and r.json()["error"] == "INVALID_REQUEST"
    assert "3" in r.json()["details"][0]["message"]
    assert stored_files() == []


@pytest.fixture
def temp_dir(tmp_path, monkeypatch):
    """Python's temp dir for this test (where uploads are spooled)."""
    path = tmp_path / "tmp"
    path.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    return path


def post_chunked(app, filename: str, chunks: int, chunk: int = 64 * 1024) -> tuple[httpx.Response, int]:
    """POST one file of `chunks` × `chunk` zero bytes as a chunked multipart body (no Content-Length) straight to
    the app; the answer and how many chunks the app pulled before answering."""
    boundary, sent = "chunked-boundary", 0

    async def body():
        nonlocal sent
        yield f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n\r\n'.encode()
        for _ in range(chunks):
            sent += 1
            yield b"\0" * chunk

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await client.post(
                URL, content=body(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
            )

    return asyncio.run(post()), sent


def test_a_chunked_body_over_the_cap_is_413_before_it_is_read_whole(app, demo, monkeypatch, temp_dir):
    monkeypatch.setenv("RESHOOT_MAX_UPLOAD_REQUEST_MB", "1")
    get_settings.cache_clear()
    chunk, chunks = 64 * 1024, 200  # 12.5 MB; the cap (1 MB + 1 MB for the form) applies as it comes
    r, sent = post_chunked(app, "big.png", chunks, chunk)
    assert r.status_code == 413
    assert r.json() == {"error": "PAYLOAD_TOO_LARGE", "details": {"maxBytes": 1024 * 1024}}
    assert sent * chunk <= 2 * 1024 * 1024 + chunk < chunks * chunk  # stopped at the cap, not at the end
    assert list(temp_dir.iterdir()) == []


def test_a_declared_length_over_the_cap_is_413_without_reading(client, demo, monkeypatch):
    monkeypatch.setenv("RESHOOT_MAX_UPLOAD_REQUEST_MB", "1")
    get_settings.cache_clear()
    r = client.post(URL, content=b"x" * (3 * 1024 * 1024), headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert r.status_code == 413 and r.json()["details"]["maxBytes"] == 1024 * 1024


def test_spooled_upload_files_are_gone_after_the_request(client, demo, png, temp_dir):
    big = _noise_png(1400, 1000)  # > 1 MB: spooled to disk
    assert len(big) > 1024 * 1024
    r = upload(client, [("big.png", big), ("small.png", png())])
    assert r.status_code == 200 and len(r.json()["references"]) == 2
    assert list(temp_dir.iterdir()) == []


def _noise_png(width: int, height: int) -> bytes:
    import os

    from PIL import Image

    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(out, "PNG", compress_level=1)
    return out.getvalue()


def test_the_use_case_takes_files_and_checks_them_before_reading(demo, png, monkeypatch):
    """The dashboard passes Streamlit's uploaded files (file objects) and gets the same limits as plain messages."""
    monkeypatch.setenv("RESHOOT_MAX_UPLOAD_FILES", "2")
    monkeypatch.setenv("RESHOOT_MAX_UPLOAD_REQUEST_MB", "1")
    get_settings.cache_clear()
    result = lifestyle.add_references(
        work_item_id="7",
        options=lifestyle.ReferenceUpload(
            shot_id="OL-3", files=[("a.png", io.BytesIO(png("red"))), ("b.png", io.BytesIO(png("blue")))]
        ),
    )
    assert len(result.references) == 2

    class Unreadable(io.BytesIO):
        def read(self, *args):
            raise AssertionError("read before the limits were checked")

    with pytest.raises(ReshootError) as count:
        lifestyle.add_references(
            work_item_id="7",
            options=lifestyle.ReferenceUpload(shot_id="OL-3", files=[(f"{i}.png", Unreadable(b"x")) for i in range(3)]),
        )
    assert count.value.status == 400 and "RESHOOT_MAX_UPLOAD_FILES" in count.value.message
    with pytest.raises(ReshootError) as size:
        lifestyle.add_references(
            work_item_id="7",
            options=lifestyle.ReferenceUpload(
                shot_id="OL-3", files=[("big.png", Unreadable(b"x" * (2 * 1024 * 1024)))]
            ),
        )
    assert size.value.code == "PAYLOAD_TOO_LARGE" and "1 MB" in size.value.message


def test_a_huge_jpeg_is_stored_at_most_4096_pixels_wide(demo):
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (9000, 3000), (120, 80, 40)).save(out, "JPEG", quality=80)
    result = lifestyle.add_references(
        work_item_id="7", options=lifestyle.ReferenceUpload(shot_id="OL-4", files=[("wide.jpg", out)])
    )
    ref = result.references[0]
    assert (ref.width, ref.height) == (4096, 1365)


def test_an_image_the_full_shot_already_has_answers_the_existing_reference(client, demo, png, monkeypatch):
    monkeypatch.setenv("RESHOOT_MAX_REFERENCES_PER_SHOT", "1")
    get_settings.cache_clear()
    first = upload(client, [("a.png", png("red"))]).json()["references"][0]["id"]
    again = upload(client, [("a-again.png", png("red"))])
    assert again.status_code == 200 and [r["id"] for r in again.json()["references"]] == [first]


def test_a_file_over_the_file_cap_is_cut_off_as_it_arrives_and_named(app, demo, monkeypatch, temp_dir):
    monkeypatch.setenv("RESHOOT_MAX_UPLOAD_MB", "1")
    get_settings.cache_clear()
    chunk, chunks = 64 * 1024, 100
    r, sent = post_chunked(app, "huge.png", chunks, chunk)
    assert r.status_code == 400
    assert r.json()["error"] == "INVALID_IMAGE" and r.json()["details"] == {
        "filename": "huge.png",
        "reason": "too_large",
    }
    assert sent * chunk <= 1024 * 1024 + 2 * chunk < chunks * chunk
    assert list(temp_dir.iterdir()) == [] and stored_files() == []


def test_several_files_each_under_the_file_cap_are_all_accepted(app, demo, monkeypatch):
    """The file cap counts each part on its own: a count keyed by id(part) once carried a freed part's bytes into
    a later part at the same address (straight to the app, as a server streams it; TestClient did not show it)."""
    monkeypatch.setenv("RESHOOT_MAX_UPLOAD_MB", "1")
    get_settings.cache_clear()
    files = [("files", (f"noise-{k}.png", _noise_png(460, 460), "image/png")) for k in range(6)]
    assert all(1024 * 1024 > len(data) > 600 * 1024 for _, (_, data, _) in files)  # any two are over the cap

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await client.post(URL, data={"shotId": "OL-1"}, files=files)

    r = asyncio.run(post())
    assert r.status_code == 200, r.text
    assert len(r.json()["references"]) == 6
