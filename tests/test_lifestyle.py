"""Lifestyle heroes (seeds 001/000) on the demo set: plan, generate, skip, regenerate one shot, references."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image
from pydantic import ValidationError
from sqlmodel import select

from services import images, jobs, lifestyle, versions
from services.backends import BackendUnavailable, ContentRejected
from services.config import get_settings
from services.db import session_scope
from services.errors import ReshootError, invalid_from
from services.models import ExportPlanRow, ImageVersion, Shot
from services.storage import get_storage

SHOTS = ["OL-1", "OL-2", "OL-3", "OL-4"]


def run(work_item_id="7", **options):
    started = lifestyle.start_heroes_job(work_item_id=work_item_id, options=lifestyle.GenerateHeroesOptions(**options))
    assert started.ok is True and started.work_item_id == work_item_id
    return jobs.wait_for_job(started.job_id, timeout=60)


def rows_of(work_item_id="7", shot_id=None):
    with session_scope() as s:
        query = select(ExportPlanRow, Shot).join(Shot).where(ExportPlanRow.work_item_id == work_item_id)
        if shot_id:
            query = query.where(Shot.shot_id == shot_id)
        return [row for row, _ in s.exec(query.order_by(ExportPlanRow.id))]


@pytest.fixture
def small(demo):
    """Work item "s1": three shots with tiny export sizes, so generation tests stay fast."""
    from services.importer import import_data

    sizes = [("Desktop", 192, 80, "desktop.png"), ("Tablet", 154, 77, "tablet.jpg"), ("Mobile", 75, 100, "mobile.webp")]
    plan = [
        {
            "shot_id": f"S-{n}",
            "sku": f"SKU-{n}",
            "size_label": label,
            "width": w,
            "height": h,
            "filename": f"fcc/lifestyle/s1/S-{n}/{name}",
        }
        for n in (1, 2, 3)
        for label, w, h, name in sizes
    ]
    shots = [{"shot_id": f"S-{n}", "sku": f"SKU-{n}", "prompt": f"small scene {n}"} for n in (1, 2, 3)]
    import_data(
        {
            "workItems": [
                {
                    "id": "s1",
                    "title": "Small",
                    "status": "open",
                    "lifestylePack": {"version": "v2", "shots": shots, "exportPlan": plan},
                }
            ]
        }
    )
    return "s1"


def png(colour=(200, 30, 30), size=(64, 48), fmt="PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format=fmt)
    return out.getvalue()


def test_generate_skip_regenerate_and_missing_on_the_demo_set(demo, fake_backend):
    job = run(overwrite=True)
    assert job.status == "succeeded", job
    result = job.result
    assert [g["shot_id"] for g in result["generated"]] == [s for s in SHOTS for _ in range(3)]
    assert result["skippedExisting"] == [] and result["missingShots"] == [] and result["failed"] == []
    assert set(result) == {
        "ok",
        "workItemId",
        "dryRun",
        "overwrite",
        "generated",
        "skippedExisting",
        "missingShots",
        "failed",
    }
    assert len(fake_backend.calls) == 4  # one master per shot, three sizes cropped from it
    storage = get_storage()
    for item in result["generated"]:
        assert Image.open(io.BytesIO(storage.get(item["filename"]))).size == (item["width"], item["height"])
    assert job.message.startswith("Created 12 images across 4 shots (OL-1, OL-2, OL-3, OL-4).")

    again = run().result
    assert again["generated"] == [] and len(again["skippedExisting"]) == 12
    assert {s["reason"] for s in again["skippedExisting"]} == {"EXISTS"}
    assert len(fake_backend.calls) == 4

    before = {row.id: row.current_version_id for row in rows_of(shot_id="OL-2")}
    one = run(shot_ids=["OL-2"], overwrite=True).result
    assert [g["shot_id"] for g in one["generated"]] == ["OL-2"] * 3 and one["skippedExisting"] == []
    assert len(fake_backend.calls) == 5
    for row in rows_of(shot_id="OL-2"):
        listed = versions.list_versions("hero", row.id)
        assert [v.version for v in listed] == [2, 1] and listed[0].is_current
        assert listed[1].id == before[row.id] and not listed[1].file_deleted
        assert storage.exists(listed[1].storage_key)  # v1 stays for comparison
        assert storage.get(row.filename) == storage.get(listed[0].storage_key)  # the stable key shows v2

    missing = lifestyle.generate_lifestyle_heroes(
        work_item_id="7", options=lifestyle.GenerateHeroesOptions(shot_ids=["NOPE"], dry_run=True)
    )
    assert missing.missing_shots == ["NOPE"] and missing.generated == []


def test_dry_run_is_the_seed_json_and_calls_no_backend(demo, fake_backend):
    result = lifestyle.generate_lifestyle_heroes(
        work_item_id="21", options=lifestyle.GenerateHeroesOptions(dry_run=True)
    )
    assert result.model_dump(mode="json") == {
        "ok": True,
        "workItemId": "21",
        "dryRun": True,
        "overwrite": False,
        "generated": [
            {"shot_id": row.shot_id, "filename": row.filename, "width": row.width, "height": row.height}
            for row in _plan_rows("21")
        ],
        "skippedExisting": [],
        "missingShots": [],
    }
    assert fake_backend.calls == [] and jobs.list_jobs() == []


def _plan_rows(work_item_id):
    with session_scope() as s:
        query = select(ExportPlanRow, Shot).join(Shot).where(ExportPlanRow.work_item_id == work_item_id)
        pairs = s.exec(query.order_by(Shot.position, Shot.id, ExportPlanRow.position, ExportPlanRow.id)).all()
        return [
            type(
                "Row", (), {"shot_id": shot.shot_id, "filename": row.filename, "width": row.width, "height": row.height}
            )
            for row, shot in pairs
        ]


@pytest.mark.parametrize("work_item_id", ["15", "does-not-exist"])
def test_no_pack_or_unknown_work_item_is_404(demo, work_item_id):
    with pytest.raises(ReshootError) as e:
        lifestyle.start_heroes_job(work_item_id=work_item_id)
    assert (e.value.status, e.value.to_json()) == (404, {"error": "LIFESTYLE_PACK_NOT_FOUND"})


@pytest.mark.parametrize(
    "options, field",
    [
        ({"shotIds": "OL-1"}, "shotIds"),
        ({"shotIds": []}, "shotIds"),
        ({"shotIds": ["OL-1", 3]}, "shotIds"),
        ({"shotIds": [""]}, "shotIds"),
        ({"shotIds": [" "]}, "shotIds"),
        ({"shotIds": [f"S-{n}" for n in range(501)]}, "shotIds"),
        ({"dryRun": "yes"}, "dryRun"),
        ({"overwrite": 1}, "overwrite"),
        ({"force": True}, "force"),
    ],
)
def test_bad_options_are_invalid_request_with_details(options, field):
    """The one options model the API, the pages and the CLI build: a refusal is INVALID_REQUEST naming the field
    (`shotIds.1` for the second id), as every way in answers it."""
    with pytest.raises(ValidationError) as e:
        lifestyle.GenerateHeroesOptions.model_validate(options)
    error = invalid_from(e.value)
    assert error.status == 400 and error.code == "INVALID_REQUEST"
    assert [d["field"].split(".")[0] for d in error.details] == [field] and all(d["message"] for d in error.details)


def test_shot_ids_are_trimmed_and_named_once():
    options = lifestyle.GenerateHeroesOptions(shot_ids=[" OL-2", "OL-1", "OL-2 "])
    assert options.shot_ids == ["OL-2", "OL-1"]
    assert lifestyle.GenerateHeroesOptions.model_validate({"shotIds": ["OL-1"], "dryRun": True}).dry_run is True


def test_a_job_is_never_a_dry_run(demo):
    with pytest.raises(ReshootError) as e:
        lifestyle.start_heroes_job(work_item_id="7", options=lifestyle.GenerateHeroesOptions(dry_run=True))
    assert e.value.code == "INVALID_REQUEST" and e.value.details[0]["field"] == "dryRun"


def test_a_job_thread_calls_the_backend_for_the_next_shot_while_the_last_one_is_finished(
    small, fake_backend, monkeypatch
):
    """Our work on an answer (exports, thumbnails, versions) overlaps the next backend call: with one job thread,
    the second shot's call is made while the first shot's exports are still being cut, and only one call at once."""
    monkeypatch.setenv("RESHOOT_GENERATION_CONCURRENCY", "1")
    get_settings.cache_clear()
    cut, entered, calls_seen = images.export_sizes_with_thumbnails, [], []

    def exports(*args, **kwargs):
        entered.append(1)
        if len(entered) == 1:  # the first shot's exports wait (at most 30 s) for the second shot's call
            deadline = time.monotonic() + 30
            while len(fake_backend.calls) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            calls_seen.append(len(fake_backend.calls))
        return cut(*args, **kwargs)

    monkeypatch.setattr(images, "export_sizes_with_thumbnails", exports)
    job = run(small)
    assert job.status == "succeeded" and len(job.result["generated"]) == 9
    assert calls_seen == [2] and fake_backend.max_active == 1


def test_one_failing_shot_does_not_stop_the_others_and_can_be_retried(small, fake_backend, monkeypatch):
    monkeypatch.setenv("RESHOOT_GENERATION_CONCURRENCY", "4")
    get_settings.cache_clear()
    fake_backend.delay = 0.2
    fake_backend.fail_when = lambda prompt: (
        BackendUnavailable("backend down for this one") if prompt == "small scene 2" else None
    )
    job = run(small)
    assert job.status == "succeeded"
    assert job.result["failed"] == [
        {"shot_id": "S-2", "error": "BACKEND_UNAVAILABLE", "message": "backend down for this one"}
    ]
    assert [g["shot_id"] for g in job.result["generated"]] == ["S-1"] * 3 + ["S-3"] * 3
    assert "1 shot failed (S-2)" in job.message
    assert fake_backend.max_active > 1  # shots ran concurrently
    assert all(row.current_version_id is None for row in rows_of(small, "S-2"))

    fake_backend.fail_when = None
    retried = jobs.retry_job(job.id)
    assert retried.params == {"shotIds": ["S-2"], "overwrite": False}  # the request's JSON, as before
    assert retried.heroes_params() == lifestyle.HeroesJobParams(shot_ids=["S-2"])
    done = jobs.wait_for_job(retried.id, timeout=30)
    assert [g["shot_id"] for g in done.result["generated"]] == ["S-2"] * 3


def test_every_shot_failing_fails_the_job_with_the_result_recorded(small, fake_backend):
    fake_backend.fail_when = lambda prompt: ContentRejected("policy says no")
    job = run(small)
    assert job.status == "failed" and job.error_code == "BACKEND_CONTENT_REJECTED"
    assert job.result["ok"] is False and len(job.result["failed"]) == 3
    assert jobs.events_since(work_item_id=small)[-1].payload["type"] == "job_failed"


def test_locked_shots_and_locked_images_are_never_overwritten(small, fake_backend):
    run(small, overwrite=True)
    lifestyle.set_shot_locked(small, "S-1", True)
    s2_rows = rows_of(small, "S-2")
    versions.set_locked(s2_rows[0].current_version_id, True)
    result = run(small, overwrite=True).result
    locked = {(s["shot_id"], s["filename"]) for s in result["skippedExisting"] if s["reason"] == "LOCKED"}
    assert locked == {("S-1", r.filename) for r in rows_of(small, "S-1")} | {("S-2", s2_rows[0].filename)}
    assert {g["filename"] for g in result["generated"]} == {r.filename for r in s2_rows[1:] + rows_of(small, "S-3")}
    assert rows_of(small, "S-2")[0].current_version_id == s2_rows[0].current_version_id


def test_references_reach_the_backend_and_are_all_or_nothing(small, fake_backend):
    with pytest.raises(ReshootError) as e:
        lifestyle.add_references(
            work_item_id=small,
            options=lifestyle.ReferenceUpload(shot_id="S-2", files=[("good.png", png()), ("bad.png", b"not an image")]),
        )
    assert e.value.code == "INVALID_IMAGE" and e.value.details["filename"] == "bad.png"
    assert lifestyle.list_references(small, "S-2") == [] and get_storage().list("fcc/lifestyle_refs") == []

    saved = lifestyle.add_references(
        work_item_id=small,
        options=lifestyle.ReferenceUpload(
            shot_id="S-2", files=[("a.png", png()), ("b.jpg", png((0, 90, 200), fmt="JPEG"))]
        ),
    )
    assert saved.ok is True and saved.shot_id == "S-2" and len(saved.references) == 2
    first = saved.references[0]
    assert first.filename == f"{first.id}.png" and first.url == f"/assets/fcc/lifestyle_refs/s1/S-2/{first.id}.png"
    again = lifestyle.add_references(
        work_item_id=small, options=lifestyle.ReferenceUpload(shot_id="S-2", files=[("copy.png", png())])
    )  # same bytes: stored once
    assert again.references[0].id == first.id and len(lifestyle.list_references(small, "S-2")) == 2

    run(small, shot_ids=["S-2"], overwrite=True)
    assert fake_backend.calls[-1]["references"] == 2
    with session_scope() as s:
        current = s.get(ImageVersion, rows_of(small, "S-2")[0].current_version_id)
        assert sorted(current.references) == sorted(r.id for r in saved.references)

    lifestyle.delete_reference(first.id)
    assert [r.id for r in lifestyle.list_references(small)] == [saved.references[1].id]
    assert not get_storage().exists(f"fcc/lifestyle_refs/s1/S-2/{first.id}.png")
    with pytest.raises(ReshootError) as e:
        lifestyle.delete_reference(first.id)
    assert e.value.status == 404


@pytest.mark.parametrize(
    "work_item_id, shot_id, code", [("nope", "OL-1", "WORK_ITEM_NOT_FOUND"), ("7", "NOPE", "SHOT_NOT_FOUND")]
)
def test_references_for_unknown_targets_are_404(demo, work_item_id, shot_id, code):
    with pytest.raises(ReshootError) as e:
        lifestyle.add_references(
            work_item_id=work_item_id, options=lifestyle.ReferenceUpload(shot_id=shot_id, files=[("a.png", png())])
        )
    assert (e.value.status, e.value.code) == (404, code)


def test_target_keys_deduplicate_the_same_shot_set():
    assert lifestyle.heroes_target_key("7") == "heroes:7:*"
    assert lifestyle.heroes_target_key("7", ["OL-2", "OL-1"]) == lifestyle.heroes_target_key("7", ["OL-1", "OL-2"])
    assert len(lifestyle.heroes_target_key("7", [f"SHOT-{i}" for i in range(200)])) <= 255


def test_cli_generate_heroes_prints_the_seed_json_and_errors(small, capsys):
    import json

    from services.cli import main

    assert main(["generate-heroes", small, "--overwrite", "--wait", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["generated"]) == 9 and result["dryRun"] is False and result["overwrite"] is True
    assert main(["generate-heroes", small, "--shot", "S-1", "--shot", "NOPE", "--dry-run"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert (dry["missingShots"], len(dry["skippedExisting"]), dry["generated"]) == (["NOPE"], 3, [])
    assert main(["generate-heroes", "15"]) == 1
    assert json.loads(capsys.readouterr().out) == {"error": "LIFESTYLE_PACK_NOT_FOUND"}


def test_offline_heroes_say_not_ai_at_every_size(demo, fake_backend):
    """README's promise: every offline image says it is not AI — Tablet and Mobile crops get their own label."""
    from services.backends.local import LABEL
    from services.images import LABEL_COLOUR, label_layout

    job = run(shot_ids=["OL-1"], overwrite=True)
    assert job.status == "succeeded", job
    storage = get_storage()
    for row in rows_of(shot_id="OL-1"):
        image = Image.open(io.BytesIO(storage.get(row.filename))).convert("RGB")
        if (row.width, row.height) == (1920, 800):  # the master itself: its caption band carries the label
            box = (0, int(row.height * 0.7), row.width // 2, row.height)
        else:
            box = label_layout((row.width, row.height), LABEL).box
        yellow = sum(
            1
            for pixel in image.crop(box).get_flattened_data()
            if all(abs(a - b) < 12 for a, b in zip(pixel, LABEL_COLOUR, strict=True))
        )
        assert yellow > 100, (row.size_label, yellow)


def test_planning_on_s3_lists_the_work_items_files_once_and_a_file_put_there_by_hand_is_skipped(db, s3_env):
    from services.importer import import_data
    from tests.servers import s3_operations

    sizes = [("Desktop", 192, 80), ("Tablet", 154, 77), ("Mobile", 75, 100)]
    plan = [
        {"shot_id": f"S-{n}", "sku": f"SKU-{n}", "size_label": label, "width": w, "height": h}
        | {"filename": f"fcc/lifestyle/s3/S-{n}/{label.lower()}.png"}
        for n in range(1, 61)
        for label, w, h in sizes
    ]
    import_data({"workItems": [{"id": "s3", "title": "S3", "status": "open", "lifestylePack": {"exportPlan": plan}}]})
    storage = get_storage()
    storage.put("fcc/lifestyle/s3/S-7/tablet.png", b"placed by hand")
    sent = s3_operations(storage)

    result = lifestyle.generate_lifestyle_heroes(
        work_item_id="s3", options=lifestyle.GenerateHeroesOptions(dry_run=True)
    )
    assert [(s.shot_id, s.filename, s.reason) for s in result.skipped_existing] == [
        ("S-7", "fcc/lifestyle/s3/S-7/tablet.png", "EXISTS")
    ]
    assert len(result.generated) == 179
    assert sent == ["ListObjectsV2"]  # was a HeadObject for each of the 180 targets
