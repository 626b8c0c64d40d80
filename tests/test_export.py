"""Export what was approved (issue 13 item 8): the streamed ZIP and its manifest against the database, after
real generation and decisions made through the review use case; the CLI and the API (a real server streams it
chunked)."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import zipfile

import httpx
import pytest
from sqlmodel import select

from services import jobs, lifestyle, reviews, versions, work_items
from services.cli import main
from services.db import session_scope
from services.errors import ReshootError
from services.identity import Actor, Role, acting_as, local_actor
from services.models import ReviewDecision, iso
from services.storage import get_storage
from tests.servers import free_port, running

ANA = Actor("ana@example.com", "Ana Reviewer", Role.reviewer)
VIEWER = Actor("vic@example.com", "Vic", Role.viewer)


@pytest.fixture
def reviewed(demo):
    """Work item "e1": shots E-1, E-2 generated (local backend, a real job), E-3 never generated; Ana approved
    E-1's two sizes and E-2 Desktop, rejected E-2 Mobile."""
    from services.importer import import_data

    sizes = [("Desktop", 160, 80, "desktop.png"), ("Mobile", 60, 100, "mobile.png")]
    plan = [
        {
            "shot_id": f"E-{n}",
            "sku": sku,
            "size_label": label,
            "width": w,
            "height": h,
            "filename": f"fcc/lifestyle/e1/E-{n}/{name}",
        }
        for n, sku in ((1, "SKU-A"), (2, "SKU-B"), (3, "SKU-B"))
        for label, w, h, name in sizes
    ]
    shots = [
        {"shot_id": f"E-{n}", "sku": "SKU-A" if n == 1 else "SKU-B", "prompt": f"export scene {n}"} for n in (1, 2, 3)
    ]
    import_data(
        {
            "workItems": [
                {
                    "id": "e1",
                    "title": "Export",
                    "status": "open",
                    "lifestylePack": {"version": "v2", "shots": shots, "exportPlan": plan},
                }
            ]
        }
    )
    job = jobs.wait_for_job(
        lifestyle.start_heroes_job(
            work_item_id="e1", options=lifestyle.GenerateHeroesOptions(shot_ids=["E-1", "E-2"])
        ).job_id,
        timeout=60,
    )
    assert job.status == "succeeded", job
    current = {(r.shot_id, r.size_label): r.version_id for s in work_items.get_work_item("e1").shots for r in s.rows}
    with acting_as(ANA):
        versions.set_review(
            version_id=current[("E-1", "Desktop")],
            options=versions.ReviewDecisionOptions(state="rejected", note="too dark"),
        )
        for key in (("E-1", "Desktop"), ("E-1", "Mobile"), ("E-2", "Desktop")):
            versions.set_review(version_id=current[key], options=versions.ReviewDecisionOptions(state="approved"))
        versions.set_review(
            version_id=current[("E-2", "Mobile")],
            options=versions.ReviewDecisionOptions(state="rejected", note="crop cuts the product"),
        )
    return current


def read_zip(chunks) -> tuple[zipfile.ZipFile, int]:
    parts = list(chunks)
    data = b"".join(parts)
    return zipfile.ZipFile(io.BytesIO(data)), len(parts)


def test_the_zip_holds_the_approved_heroes_and_a_manifest_that_matches_the_database(reviewed):
    export = reviews.export_approved(work_item_id="e1")
    archive, chunk_count = read_zip(export.chunks)
    assert archive.testzip() is None and chunk_count > 3  # written piece by piece, not as one blob
    approved = [
        "fcc/lifestyle/e1/E-1/desktop.png",
        "fcc/lifestyle/e1/E-1/mobile.png",
        "fcc/lifestyle/e1/E-2/desktop.png",
    ]
    assert archive.namelist() == [*approved, "manifest.json", "manifest.csv"]

    manifest = json.loads(archive.read("manifest.json"))
    assert manifest == export.manifest.model_dump(mode="json")
    assert (manifest["workItemId"], manifest["title"], manifest["exportedBy"]) == ("e1", "Export", local_actor().label)
    entries = {(e["shotId"], e["sizeLabel"]): e for e in manifest["entries"]}
    assert list(entries) == [(f"E-{n}", size) for n in (1, 2, 3) for size in ("Desktop", "Mobile")]
    assert [entries[k]["status"] for k in entries] == [
        "approved",
        "approved",
        "approved",
        "not approved",
        "no image",
        "no image",
    ]
    assert entries[("E-2", "Mobile")]["reviewState"] == "rejected" and entries[("E-3", "Desktop")]["versionId"] is None
    rejected = entries[("E-2", "Mobile")]
    assert (rejected["reviewer"], rejected["reviewerEmail"]) == ("Ana Reviewer", "ana@example.com") and rejected[
        "decidedAt"
    ]

    storage = get_storage()
    with session_scope() as s:
        for (shot_id, size), entry in entries.items():
            if entry["status"] != "approved":
                continue
            version = versions.get_version(reviewed[(shot_id, size)])
            assert archive.read(entry["filename"]) == storage.get(version.storage_key)
            assert entry["fileSize"] == len(storage.get(version.storage_key))
            sent = version.model_dump(mode="json")
            for field in ("version", "seed", "seedHonoured", "prompt", "backend", "model", "references"):
                assert entry[field] == sent[field], field
            assert (entry["versionId"], entry["width"], entry["height"]) == (
                version.id,
                version.width,
                version.height,
            )
            latest = s.exec(
                select(ReviewDecision).where(ReviewDecision.version_id == version.id).order_by(ReviewDecision.id.desc())
            ).first()
            assert latest.decision == "approved" and entry["reviewer"] == "Ana Reviewer"
            assert entry["reviewerEmail"] == "ana@example.com" and entry["decidedAt"] == iso(latest.at)

    rows = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
    assert [(r["shotId"], r["sizeLabel"], r["status"]) for r in rows] == [
        (k[0], k[1], e["status"]) for k, e in entries.items()
    ]
    assert rows[0]["prompt"] == entries[("E-1", "Desktop")]["prompt"] and rows[0]["seed"] == str(
        entries[("E-1", "Desktop")]["seed"]
    )
    assert list(rows[0]) == reviews.CSV_COLUMNS


def test_filters_errors_and_a_missing_file(reviewed):
    only_b = reviews.export_approved(work_item_id="e1", sku="SKU-B")
    assert [e.shotId for e in only_b.manifest.entries] == ["E-2", "E-2", "E-3", "E-3"]
    assert read_zip(only_b.chunks)[0].namelist() == [
        "fcc/lifestyle/e1/E-2/desktop.png",
        "manifest.json",
        "manifest.csv",
    ]
    one = reviews.export_approved(work_item_id="e1", shot_ids=["E-1"])
    assert {e.shotId for e in one.manifest.entries} == {"E-1"} and one.manifest.shotIds == ["E-1"]

    for kwargs, status, code in (
        ({"work_item_id": "nope"}, 404, "WORK_ITEM_NOT_FOUND"),
        ({"work_item_id": "15"}, 404, "LIFESTYLE_PACK_NOT_FOUND"),
        ({"work_item_id": "e1", "shot_ids": ["E-1", "X-9"]}, 400, "INVALID_REQUEST"),
        ({"work_item_id": "e1", "sku": "SKU-Z"}, 400, "INVALID_REQUEST"),
    ):
        with pytest.raises(ReshootError) as e:
            reviews.export_approved(**kwargs)
        assert (e.value.status, e.value.code) == (status, code)

    get_storage().delete(versions.get_version(reviewed[("E-1", "Mobile")]).storage_key)
    with acting_as(VIEWER):  # viewers may export
        export = reviews.export_approved(work_item_id="e1")
    archive, _ = read_zip(export.chunks)
    assert "fcc/lifestyle/e1/E-1/mobile.png" not in archive.namelist()
    statuses = {
        (e["shotId"], e["sizeLabel"]): e["status"] for e in json.loads(archive.read("manifest.json"))["entries"]
    }
    assert statuses[("E-1", "Mobile")] == "file missing" and export.manifest.exportedBy == "Vic"


def test_the_cli_writes_the_zip(reviewed, tmp_path, capsys):
    out = tmp_path / "heroes.zip"
    assert main(["export", "e1", "-o", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == {
        "ok": True,
        "output": str(out),
        "bytes": out.stat().st_size,
        "targets": 6,
        "approved": 3,
        "not approved": 1,
        "no image": 2,
    }
    assert len(zipfile.ZipFile(out).namelist()) == 5
    assert main(["export", "nope", "-o", str(tmp_path / "x.zip")]) == 1
    assert json.loads(capsys.readouterr().out)["error"] == "WORK_ITEM_NOT_FOUND"
    assert not (tmp_path / "x.zip").exists() and not (tmp_path / "x.zip.partial").exists()


def test_the_api_answers_the_zip_and_json_errors(reviewed):
    from fastapi.testclient import TestClient

    from services.api import create_app

    client = TestClient(create_app(), raise_server_exceptions=False)
    r = client.get("/api/work-items/e1/export.zip", params={"sku": "SKU-A"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == 'attachment; filename="work-item-e1-approved.zip"'
    assert zipfile.ZipFile(io.BytesIO(r.content)).namelist()[:2] == [
        "fcc/lifestyle/e1/E-1/desktop.png",
        "fcc/lifestyle/e1/E-1/mobile.png",
    ]
    r = client.get("/api/work-items/nope/export.zip")
    assert r.status_code == 404 and r.json() == {"error": "WORK_ITEM_NOT_FOUND", "details": {"workItemId": "nope"}}
    r = client.get("/api/work-items/e1/export.zip", params={"shotId": ["E-1", "X-9"]})
    assert r.status_code == 400 and r.json()["error"] == "INVALID_REQUEST"


@pytest.mark.timeout(90)
def test_a_real_server_streams_the_zip_chunked(reviewed, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "services", "api", "--host", "127.0.0.1", "--port", str(port)]
    with (
        running(
            args,
            ready=lambda: httpx.get(f"{base}/openapi.json", timeout=1).is_success,
            log_path=tmp_path / "api.log",
            env=os.environ.copy(),
            timeout=30,
        ),
        httpx.stream("GET", f"{base}/api/work-items/e1/export.zip", timeout=30) as r,
    ):
        assert r.status_code == 200 and r.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in r.headers
        body = b"".join(r.iter_raw())
    assert zipfile.ZipFile(io.BytesIO(body)).namelist()[-2:] == ["manifest.json", "manifest.csv"]


def test_one_image_is_read_at_a_time_and_sent_before_the_next(reviewed, monkeypatch):
    """Bounded memory, counted: an image's bytes have all left the iterator before the next image is read."""
    from services import reviews as module

    storage, read, sent = get_storage(), [], bytearray()
    real_get = storage.get

    def get(key: str) -> bytes:
        if read:
            assert read[-1] in sent, "the previous image was still held when the next was read"
        read.append(real_get(key))
        return read[-1]

    monkeypatch.setattr(storage, "get", get)
    monkeypatch.setattr(module, "get_storage", lambda: storage)
    for chunk in reviews.export_approved(work_item_id="e1").chunks:
        sent += chunk
    assert len(read) == 3 and all(data in sent for data in read)


def test_on_s3_the_zip_holds_the_stored_files_with_their_provenance(s3_env, reviewed):
    from PIL import Image

    archive, _ = read_zip(reviews.export_approved(work_item_id="e1", shot_ids=["E-1"]).chunks)
    assert archive.namelist() == [
        "fcc/lifestyle/e1/E-1/desktop.png",
        "fcc/lifestyle/e1/E-1/mobile.png",
        "manifest.json",
        "manifest.csv",
    ]
    for name in archive.namelist()[:2]:
        version = versions.get_version(reviewed[("E-1", "Desktop" if "desktop" in name else "Mobile")])
        assert archive.read(name) == get_storage().get(version.storage_key)
        with Image.open(io.BytesIO(archive.read(name))) as image:
            assert json.loads(image.text["reshoot"])["version"] == version.version
