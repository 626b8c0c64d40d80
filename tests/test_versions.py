"""Image versions: pointer moves after writes, retention, restore, favourite/lock, review state."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from pydantic import ValidationError
from sqlmodel import select

from services import storyboard, versions
from services.audit import AuditAction
from services.db import session_scope
from services.errors import ReshootError, invalid_from
from services.identity import Actor, Role, acting_as
from services.models import AuditEntry, ExportPlanRow, ImageVersion
from services.read_models.review_queue import ReviewQueueFilter
from services.read_models.versions import ListedVersion, VersionPublic
from services.storage import get_storage


def image(n: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 18), (n * 20 % 256, 80, 160)).save(out, format="PNG")
    return out.getvalue()


def add(kind: str, target_id: str, n: int, base_key: str = "storyboard/coffee-origins/sent_001/image.png") -> int:
    new = versions.NewImage(kind, target_id, base_key, image(n), 32, 18, f"prompt {n}", n, "fake")
    [version] = versions.save_new_versions([new], lambda s, vs: versions.set_current(s, vs[0]))
    versions.apply_retention(kind, target_id)
    return version.id


def live_numbers(kind="sentence", target_id="sent_001") -> list[int]:
    return [v.version for v in versions.list_versions(kind, target_id) if not v.file_deleted]


def test_retention_keeps_the_newest_plus_favourites_and_locked(demo, monkeypatch):
    from services.config import get_settings

    monkeypatch.setenv("RESHOOT_KEEP_VERSIONS", "2")
    get_settings.cache_clear()
    v1 = add("sentence", "sent_001", 1)
    versions.set_favourite(v1, True)
    v2 = add("sentence", "sent_001", 2)
    add("sentence", "sent_001", 3)
    assert live_numbers() == [3, 2, 1]  # v1 is beyond the newest two but a favourite
    add("sentence", "sent_001", 4)
    assert live_numbers() == [4, 3, 1]
    deleted = versions.get_version(v2)
    assert deleted.file_deleted and deleted.url is None and not get_storage().exists(deleted.storage_key)
    v3 = next(v.id for v in versions.list_versions("sentence", "sent_001") if v.version == 3)
    versions.set_locked(v3, True)
    add("sentence", "sent_001", 5)
    add("sentence", "sent_001", 6)
    assert live_numbers() == [6, 5, 3, 1]  # v4 went; locked v3 and favourite v1 stay
    stored = get_storage().list("storyboard/coffee-origins/sent_001")
    assert len(stored) == 2 * 4  # image + thumbnail of each live version, nothing else


def test_restore_moves_the_pointer_back_and_retention_never_deletes_the_current_one(demo):
    first = add("sentence", "sent_001", 1)
    add("sentence", "sent_001", 2)
    restored = versions.restore_version(first)
    assert restored.is_current and restored.version == 1
    sentence = storyboard.get_sentence("sent_001")
    assert sentence.image_file == restored.url and sentence.seed == 1
    assert sentence.is_video_dirty is True
    assert versions.apply_retention("sentence", "sent_001", keep=1) == []  # v2 is newest, v1 is current
    add("sentence", "sent_001", 3)
    versions.apply_retention("sentence", "sent_001", keep=1)
    with pytest.raises(ReshootError) as e:
        versions.restore_version(first)
    assert (e.value.status, e.value.code) == (409, "VERSION_FILE_DELETED")


def test_hero_restore_rewrites_the_stable_filename(demo):
    with session_scope() as s:
        row = s.exec(select(ExportPlanRow).where(ExportPlanRow.filename == "fcc/lifestyle/7/OL-1/desktop.png")).one()
    first = add("hero", str(row.id), 1, row.filename)
    add("hero", str(row.id), 2, row.filename)
    versions.restore_version(first)
    assert get_storage().get(row.filename) == get_storage().get(versions.get_version(first).storage_key)
    assert (
        Image.open(io.BytesIO(get_storage().get(row.filename))).tobytes() == Image.open(io.BytesIO(image(1))).tobytes()
    )
    keys = [v.storage_key for v in versions.list_versions("hero", row.id)]
    assert keys[1].startswith("fcc/lifestyle/7/OL-1/desktop.v1-") and keys[1].endswith(".png")


def test_a_failed_pointer_move_leaves_no_files_and_no_rows(demo):
    def boom(s, vs):
        raise RuntimeError("database went away")

    new = versions.NewImage(
        "sentence", "sent_001", "storyboard/coffee-origins/sent_001/image.png", image(1), 32, 18, "p", 1, "fake"
    )
    with pytest.raises(RuntimeError):
        versions.save_new_versions([new], boom)
    assert get_storage().list("storyboard") == []
    with session_scope() as s:
        assert s.exec(select(ImageVersion)).all() == []


def test_review_state_and_queue(demo):
    with session_scope() as s:
        row = s.exec(select(ExportPlanRow).where(ExportPlanRow.work_item_id == "7")).first()
    version = add("hero", str(row.id), 1, row.filename)
    [queued] = versions.review_queue()
    assert (queued.version_id, queued.work_item_id, queued.size_label) == (version, "7", row.size_label)
    with acting_as(Actor("ana@example.com", "Ana", Role.reviewer)):
        reviewed = versions.set_review(
            version_id=version, options=versions.ReviewDecisionOptions(state="approved", note="Good light")
        )
    assert (reviewed.review_state, reviewed.reviewer, reviewed.review_note) == ("approved", "Ana", "Good light")
    assert reviewed.model_dump(mode="json")["reviewedAt"].endswith("Z")
    assert (
        versions.review_queue() == []
        and len(versions.review_queue(only=ReviewQueueFilter(state="approved", work_item_id="7"))) == 1
    )
    with pytest.raises(ValidationError) as e:
        versions.ReviewDecisionOptions(state="maybe")
    assert invalid_from(e.value).code == "INVALID_REQUEST" and invalid_from(e.value).details[0]["field"] == "state"
    with pytest.raises(ValidationError):
        versions.ReviewDecisionOptions.model_validate({"state": "approved", "note": 3})  # a note is text


def test_the_same_persons_same_decision_again_records_nothing(demo):
    """A double click or a key pressed twice before the page redrew: one decision, one audit row. Another note,
    another decision or another person is a new decision."""
    with session_scope() as s:
        row = s.exec(select(ExportPlanRow).where(ExportPlanRow.work_item_id == "7")).first()
    version = add("hero", str(row.id), 1, row.filename)
    ana, ben = Actor("ana@example.com", "Ana", Role.reviewer), Actor("ben@example.com", "Ben", Role.reviewer)
    for actor, state, note in [
        (ana, "rejected", "Too dark"),
        (ana, "rejected", "Too dark"),  # again: nothing
        (ana, "rejected", None),
        (ana, "approved", None),
        (ana, "approved", None),  # again: nothing
        (ben, "approved", None),
    ]:
        with acting_as(actor):
            versions.set_review(version_id=version, options=versions.ReviewDecisionOptions(state=state, note=note))
    history = versions.review_history([version])[version]
    assert [(d.reviewer, d.decision, d.note) for d in reversed(history)] == [
        ("Ana", "rejected", "Too dark"),
        ("Ana", "rejected", None),
        ("Ana", "approved", None),
        ("Ben", "approved", None),
    ]
    with session_scope() as s:
        reviews = s.exec(select(AuditEntry).where(AuditEntry.action == AuditAction.review)).all()
    assert len(reviews) == 4


def test_unknown_targets_and_versions_are_404(demo):
    for call in (
        lambda: versions.list_versions("sentence", "nope"),
        lambda: versions.list_versions("hero", "999999"),
        lambda: versions.restore_version(12345),
    ):
        with pytest.raises(ReshootError) as e:
            call()
        assert e.value.status == 404
    with pytest.raises(ReshootError) as e:
        versions.list_versions("poster", "x")
    assert e.value.status == 400


def test_a_thumbnail_made_with_the_image_is_stored_as_given(demo):
    thumb = io.BytesIO()
    Image.new("RGB", (16, 9), (1, 2, 3)).save(thumb, format="WEBP")
    new = versions.NewImage(
        "sentence",
        "sent_001",
        "storyboard/coffee-origins/sent_001/image.png",
        image(1),
        32,
        18,
        "p",
        1,
        "fake",
        thumbnail=thumb.getvalue(),
    )
    [version] = versions.save_new_versions([new], lambda s, vs: versions.set_current(s, vs[0]))
    assert get_storage().get(version.thumb_key) == thumb.getvalue()


VERSION_KEYS = [
    *("id", "targetKind", "targetId", "version", "url", "thumbUrl", "storageKey", "width", "height", "prompt"),
    *("seed", "seedHonoured", "backend", "model", "references", "jobId", "createdAt", "favourite", "locked"),
    *("fileDeleted", "reviewState", "reviewer", "reviewNote", "reviewedAt", "isCurrent"),
]


def test_a_version_is_sent_with_its_keys_in_order_and_its_schema_describes_every_one(demo):
    first = add("sentence", "sent_001", 1)
    add("sentence", "sent_001", 2)
    with acting_as(Actor("ana@example.com", "Ana", Role.reviewer)):
        versions.set_review(version_id=first, options=versions.ReviewDecisionOptions(state="rejected", note="Dark"))
    one = versions.get_version(first).model_dump(mode="json")
    listed = versions.list_versions("sentence", "sent_001")[1].model_dump(mode="json")
    assert list(one) == VERSION_KEYS and listed == {**one, "createdBy": None}  # no job (and no one) asked for it
    assert one["createdAt"].endswith("Z") and one["reviewedAt"].endswith("Z") and one["reviewState"] == "rejected"
    for model, sent in ((VersionPublic, one), (ListedVersion, listed)):
        schema = model.model_json_schema(mode="serialization")
        assert list(schema["properties"]) == list(sent) and set(schema["required"]) == set(sent), model.__name__
        assert schema["properties"]["reviewState"]["$ref"].endswith("/ReviewState")


def _updated(work_item_id: str) -> str:
    from services.work_items import list_work_items

    return next(i.updated_at for i in list_work_items(page_size=200).items if i.id == work_item_id)


def test_a_new_hero_and_a_review_change_the_work_items_updated(demo):
    with session_scope() as s:
        row_id = str(s.exec(select(ExportPlanRow.id).where(ExportPlanRow.work_item_id == "12")).first())
    before = _updated("12")
    version_id = add("hero", row_id, 1, base_key="fcc/lifestyle/12/KT-1/desktop.png")
    regenerated = _updated("12")
    assert regenerated > before
    versions.set_review(version_id=version_id, options=versions.ReviewDecisionOptions(state="approved"))
    reviewed = _updated("12")
    assert reviewed > regenerated
    versions.set_favourite(version_id, True)  # not a change of the work item's heroes or reviews
    assert _updated("12") == reviewed


def test_demo_statuses_agree_with_their_heroes(demo):
    """No demo work item says `approved` while its heroes wait for review (the demo renders them pending)."""
    from services.work_items import list_work_items

    for item in list_work_items(page_size=200).items:
        if item.has_pack:
            assert item.status in ("open", "in_review"), item
