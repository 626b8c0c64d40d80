"""Image versions: every generated image is kept under its own key; "current" is a pointer on the target.

Replacement order: write the new file (and thumbnail) under a new key, then move the pointer in one
transaction; only after that succeeded may retention delete older files — beyond RESHOOT_KEEP_VERSIONS,
never the current one, a favourite or a locked one. Targets: `hero` (an ExportPlanRow id, as text) and
`sentence` (a Sentence id).

Heroes also keep a stable copy: after the pointer moves, the current image is written to the plan row's
`filename` (`fcc/lifestyle/7/OL-1/desktop.png`), so the spec's clients still load ASSET_BASE_URL + filename;
new clients use the versioned URLs (`…/desktop.v3-1a2b3c.png`), which never change and cache forever.
Served = current: `publish_current` copies whatever the pointer names *now*, under the row's lock, and records
it in `published_version_id`; `reconcile_stable_copies` (after a crash: at worker start and periodically)
republishes every row where the two differ; `/assets` resolves a stable filename to the current version.
"""

from __future__ import annotations

import json
import logging
import posixpath
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import BindParameter, Integer, String, and_, bindparam, cast, func, insert, literal, or_, tuple_, update
from sqlalchemy import select as sql_select  # a Core select (more columns than sqlmodel's typed select() takes)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select
from sqlmodel.sql.sqltypes import UTCDateTime

from services import images
from services.audit import AuditAction, AuditRow, Target, record, record_many, version_target
from services.auth import requires
from services.config import get_settings
from services.db import execute, get_engine, get_row, session_scope
from services.enums import AuditTargetKind, ReviewState, TargetKind
from services.errors import ReshootError, invalid_request
from services.identity import Actor, Role, current_actor
from services.models import (
    ExportPlanRow,
    ImageVersion,
    Job,
    ReviewDecision,
    Sentence,
    Shot,
    WorkItem,
    stored_id,
    utcnow,
)
from services.options import Options
from services.read_models.comments import DecisionRead
from services.read_models.review_queue import (
    MAX_BULK_VERSIONS,
    BulkDecisionResult,
    QueueCursor,
    QueuedHero,
    ReviewQueueFilter,
)
from services.read_models.versions import ListedVersion, VersionPublic
from services.storable_text import require_storable
from services.storage import StorageKeyNotFound, get_storage

log = logging.getLogger("reshoot.versions")

VERSION_NUMBER_ATTEMPTS = 12


@dataclass
class NewImage:
    """One image to store as a new version of a target."""

    target_kind: str
    target_id: str
    base_key: str  # e.g. fcc/lifestyle/7/OL-1/desktop.png; the version key is derived from it
    data: bytes
    width: int
    height: int
    prompt: str
    seed: int | None
    backend: str
    model: str | None = None
    seed_honoured: bool = True  # the backend's capabilities.honours_seed
    references: list[str] = field(default_factory=list)
    job_id: str | None = None
    thumbnail: bytes | None = None  # WebP; made from `data` when not given
    stored: bytes | None = None  # set by save_new_versions: the file as stored (`data` with its text chunks)
    # What the image is of, written into the file: {"workItemId", "shotId", "sku", "sizeLabel"} for a hero,
    # {"projectId", "sentenceId"} for a sentence.
    subject: dict[str, str] = field(default_factory=dict)


PROVENANCE_KEYWORDS = ("parameters", "reshoot")


def _infotext_value(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if any(c in text for c in ',"\n') else text  # A1111 quotes values with commas


def provenance_text(image: NewImage, version: int) -> dict[str, str]:
    """The PNG text chunks of a new version: `parameters` as AUTOMATIC1111 writes it (the prompt, then
    "Key: value, …"), which image browsers and Civitai read, and `reshoot`, everything as JSON. Nothing that
    differs between runs of the same inputs (no job id, no time), so the same generation gives the same file."""
    record = {
        "prompt": image.prompt,
        "seed": image.seed,
        "seedHonoured": image.seed_honoured,
        "backend": image.backend,
        "model": image.model,
        "version": version,
        "width": image.width,
        "height": image.height,
        "references": list(image.references),
        "targetKind": image.target_kind,
        **image.subject,
    }
    settings = {
        "Seed": image.seed if image.seed is not None else "none",
        "Seed honoured": "yes" if image.seed_honoured else "no",
        "Size": f"{image.width}x{image.height}",
        "Model": image.model or image.backend,
        "Backend": image.backend,
        "Reshoot version": version,
        **({"References": " ".join(image.references)} if image.references else {}),
        **{_SUBJECT_LABELS.get(k, k): v for k, v in image.subject.items()},
    }
    parameters = image.prompt + "\n" + ", ".join(f"{k}: {_infotext_value(v)}" for k, v in settings.items())
    return {"parameters": parameters, "reshoot": json.dumps(record, ensure_ascii=False, sort_keys=True)}


_SUBJECT_LABELS = {
    "workItemId": "Work item",
    "shotId": "Shot",
    "sku": "SKU",
    "sizeLabel": "Size label",
    "projectId": "Project",
    "sentenceId": "Sentence",
}


def file_metadata(version_id: int) -> dict[str, str]:
    """The text chunks stored inside a version's file (what a downloaded copy says about how it was made)."""
    with session_scope() as session:
        version = _load(session, version_id)
        key, deleted = version.storage_key, version.file_deleted
    return {} if deleted else images.png_text(get_storage().get(key))


def url_for(key: str | None) -> str | None:
    return get_storage().url(key) if key else None


def versioned_key(base_key: str, version: int, token: str) -> tuple[str, str]:
    """(image key, thumbnail key) for a version: `…/desktop.v3-1a2b3c.png`, `…/desktop.v3-1a2b3c.thumb.webp`."""
    stem, ext = posixpath.splitext(base_key)
    return f"{stem}.v{version}-{token}{ext or '.png'}", f"{stem}.v{version}-{token}.thumb.webp"


def image_urls(version: ImageVersion | None) -> tuple[str | None, str | None]:
    """(url, thumbnail url) of a version whose file still exists, else (None, None)."""
    if version is None or version.file_deleted:
        return None, None
    return url_for(version.storage_key), url_for(version.thumb_key)


def version_public(version: ImageVersion, *, current_id: int | None = None) -> VersionPublic:
    """A stored version as use cases return it; `isCurrent` if it is `current_id` (its target's pointer)."""
    url, thumb_url = image_urls(version)
    is_current = current_id is not None and version.id == current_id
    # The columns by their names (the thumbnail's key is not sent; its URL is), then what is worked out.
    return VersionPublic.model_validate(
        {**version.model_dump(), "url": url, "thumb_url": thumb_url, "is_current": is_current}
    )


# --- Writing new versions ----------------------------------------------------------------------------


def save_new_versions(
    new_images: list[NewImage], move_pointers: Callable[[Session, list[ImageVersion]], None]
) -> list[ImageVersion]:
    """Write each image (and thumbnail) under a new key, then in one transaction add the versions and let
    `move_pointers` point the targets at them. On any failure the written files are removed again and
    nothing in the database changed."""
    storage = get_storage()
    thumbs = [image.thumbnail or images.make_thumbnail(image.data) for image in new_images]
    for attempt in range(VERSION_NUMBER_ATTEMPTS):
        if attempt:
            time.sleep(random.uniform(0, 0.02 * attempt))  # spread writers racing for the same target apart
        numbers = _next_versions([(i.target_kind, i.target_id) for i in new_images])
        written: list[str] = []
        try:
            versions = []
            for image, thumb in zip(new_images, thumbs, strict=True):
                number = numbers[(image.target_kind, image.target_id)]
                key, thumb_key = versioned_key(image.base_key, number, secrets.token_hex(3))
                image.stored = images.png_with_text(image.data, provenance_text(image, number))
                storage.put(key, image.stored)
                written.append(key)
                storage.put(thumb_key, thumb, content_type="image/webp")
                written.append(thumb_key)
                versions.append(_version_row(image, number, key, thumb_key))
            with session_scope() as session:
                ids = execute(session, _INSERT_VERSIONS, [v.model_dump(exclude={"id"}) for v in versions]).scalars()
                for version, version_id in zip(versions, ids, strict=True):
                    version.id = version_id
                move_pointers(session, versions)
                _record_new_versions(session, versions)
            return versions
        except IntegrityError:
            _delete_files(written)  # another job took the version number first; number again
        except BaseException:
            _delete_files(written)
            raise
    raise ReshootError("INTERNAL_ERROR", 500, None, "Could not allocate a version number")


# A shot's new versions in one INSERT (its rows' ids back, in order), and the rows the audit places them at; built
# once and run as Core statements (building and running them through the ORM cost more than the database's work).
_INSERT_VERSIONS = insert(ImageVersion).returning(col(ImageVersion.id), sort_by_parameter_order=True)
_HERO_PLACES = (
    sql_select(
        col(ExportPlanRow.id),
        col(ExportPlanRow.current_version_id),
        col(ExportPlanRow.work_item_id),
        col(ExportPlanRow.size_label),
        col(Shot.shot_id),
    )
    .outerjoin(Shot, col(Shot.id) == ExportPlanRow.shot_pk)
    .where(col(ExportPlanRow.id).in_(bindparam("row_ids", expanding=True)))
)
_SENTENCE_PLACES = sql_select(col(Sentence.id), col(Sentence.current_version_id), col(Sentence.project_id)).where(
    col(Sentence.id).in_(bindparam("sentence_ids", expanding=True))
)


def _record_new_versions(session: Session, versions: list[ImageVersion]) -> None:
    """One audit row per new version, placed at its hero or sentence; the targets and their pointers are read in
    one query per kind, and the rows written in one statement, however many sizes a shot has."""
    heroes = [int(v.target_id) for v in versions if v.target_kind == TargetKind.hero and str(v.target_id).isdigit()]
    sentences = [v.target_id for v in versions if v.target_kind == TargetKind.sentence]
    targets: dict[tuple[str, str], tuple[int | None, Target]] = {}
    if heroes:  # read as they are in this transaction: the pointers move_pointers just moved
        for row_id, current, work_item_id, size_label, shot_id in execute(session, _HERO_PLACES, {"row_ids": heroes}):
            place = Target(
                AuditTargetKind.version, "", work_item_id=work_item_id, shot_id=shot_id, size_label=size_label
            )
            targets[(TargetKind.hero, str(row_id))] = (current, place)
    if sentences:
        for sentence_id, current, project_id in execute(session, _SENTENCE_PLACES, {"sentence_ids": sentences}):
            place = Target(AuditTargetKind.version, "", sentence_id=sentence_id, project_id=project_id)
            targets[(TargetKind.sentence, sentence_id)] = (current, place)
    entries: list[AuditRow] = []
    for version in versions:
        # No such target row: placed by the version alone, as version_target does.
        alone = Target(
            AuditTargetKind.version,
            "",
            sentence_id=version.target_id if version.target_kind == TargetKind.sentence else None,
        )
        current, place = targets.get((version.target_kind, str(version.target_id)), (None, alone))
        after = {
            "version": version.version,
            "current": current == version.id,
            "jobId": version.job_id,
            "seed": version.seed,
        }
        entries.append((AuditAction.new_version, replace(place, id=str(version.id)), None, after))
    record_many(session, entries)


def _version_row(image: NewImage, number: int, key: str, thumb_key: str) -> ImageVersion:
    # model_validate: half the cost of a table model's __init__ (which sets each field through the ORM)
    return ImageVersion.model_validate(
        {
            "target_kind": image.target_kind,
            "target_id": image.target_id,
            "version": number,
            "storage_key": key,
            "thumb_key": thumb_key,
            "width": image.width,
            "height": image.height,
            "prompt": image.prompt,
            "seed": image.seed,
            "seed_honoured": image.seed_honoured,
            "backend": image.backend,
            "model": image.model,
            "references": list(image.references),
            "job_id": image.job_id,
        }
    )


_HIGHEST_VERSIONS = (
    sql_select(col(ImageVersion.target_id), func.max(ImageVersion.version))
    .where(
        col(ImageVersion.target_kind) == bindparam("kind"),
        col(ImageVersion.target_id).in_(bindparam("target_ids", expanding=True)),
    )
    .group_by(col(ImageVersion.target_id))
)


def _next_versions(targets: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    numbers = {target: 1 for target in targets}
    with session_scope() as session:
        for kind in {k for k, _ in targets}:
            ids = [t for k, t in targets if k == kind]
            for target_id, highest in execute(session, _HIGHEST_VERSIONS, {"kind": kind, "target_ids": ids}):
                numbers[(kind, target_id)] = (highest or 0) + 1
    return numbers


def _delete_files(keys: list[str]) -> None:
    storage = get_storage()
    for key in keys:
        try:
            storage.delete(key)
        except Exception:
            log.warning("Could not delete %s", key, exc_info=True)


def retention_due(version: ImageVersion) -> bool:
    """Can retention find anything to delete for this new version's target? Not while its number is within
    RESHOOT_KEEP_VERSIONS: numbers are unique per target and rows are never deleted, so at most that many versions
    are numbered up to it, and each later version's own retention (after its commit) sees this one."""
    return version.version > get_settings().keep_versions


def apply_retention(target_kind: str, target_id: str, *, keep: int | None = None) -> list[str]:
    """Delete the files of versions beyond the newest `keep` (default RESHOOT_KEEP_VERSIONS); never the current
    one, a favourite or a locked one. Rows stay (file_deleted) as history. Returns the deleted keys."""
    keep = get_settings().keep_versions if keep is None else max(1, keep)
    with session_scope() as session:
        current = _current_id(session, target_kind, target_id)
        live = session.exec(
            select(ImageVersion)
            .where(
                ImageVersion.target_kind == target_kind,
                ImageVersion.target_id == target_id,
                col(ImageVersion.file_deleted).is_(False),
            )
            .order_by(col(ImageVersion.version).desc())
        ).all()
        doomed = [v for v in live[keep:] if v.id != current and not v.favourite and not v.locked]
        keys = []
        for version in doomed:
            version.file_deleted = True
            keys += [k for k in (version.storage_key, version.thumb_key) if k]
            session.add(version)
            record(
                session,
                action=AuditAction.remove_version_files,
                target=version_target(session, version),
                before={"fileDeleted": False},
                after={"fileDeleted": True},
            )
    _delete_files(keys)  # after the rows say so: a failed delete leaves a stray file, never a dangling row
    return keys


# --- Targets ------------------------------------------------------------------------------------------


def _current_id(session: Session, target_kind: str, target_id: str) -> int | None:
    if target_kind == TargetKind.hero:
        row = session.get(ExportPlanRow, int(target_id)) if str(target_id).isdigit() else None
        return row.current_version_id if row else None
    sentence = session.get(Sentence, target_id)
    return sentence.current_version_id if sentence else None


def _check_target(session: Session, target_kind: str, target_id: str) -> None:
    if target_kind not in tuple(TargetKind):
        raise invalid_request([{"field": "targetKind", "message": f"must be one of {', '.join(tuple(TargetKind))}"}])
    exists = (
        (str(target_id).isdigit() and session.get(ExportPlanRow, int(target_id)) is not None)
        if target_kind == TargetKind.hero
        else session.get(Sentence, str(target_id)) is not None
    )
    if not exists:
        raise ReshootError(
            "TARGET_NOT_FOUND", 404, {"targetKind": target_kind, "targetId": str(target_id)}, "Image target not found"
        )


def set_current(session: Session, version: ImageVersion) -> None:
    """Point the version's target at it (and, for a sentence, record its seed)."""
    if version.target_kind == TargetKind.hero:
        row = get_row(session, ExportPlanRow, int(version.target_id))
        row.current_version_id = version.id
        session.add(row)
        _touch_work_item(session, row.work_item_id)
    else:
        sentence = get_row(session, Sentence, version.target_id)
        sentence.current_version_id = version.id
        sentence.seed = version.seed
        sentence.updated_at = utcnow()
        session.add(sentence)


def _touch_work_item(session: Session, work_item_id: str) -> None:
    """A new current hero or a review changes the work item: its `updated_at` (the list's Updated) says so."""
    item = session.get(WorkItem, work_item_id)
    if item is not None:
        item.updated_at = utcnow()
        session.add(item)


def publish_current(row_id: int) -> bool:
    """Make a hero's stable file hold its current version's bytes; True if it wrote (see publish_current_many)."""
    return bool(publish_current_many([row_id]))


_ROW_IDS: BindParameter[list[int]] = bindparam("row_ids", expanding=True)
_LOCK_ROWS = (  # a no-op UPDATE: the rows' locks
    update(ExportPlanRow)
    .where(col(ExportPlanRow.id).in_(_ROW_IDS))
    .values(published_version_id=ExportPlanRow.published_version_id)
)
_UNPUBLISHED = (
    sql_select(col(ExportPlanRow.id), col(ExportPlanRow.filename), col(ImageVersion.storage_key))
    .join(ImageVersion, col(ImageVersion.id) == ExportPlanRow.current_version_id)
    .where(
        col(ExportPlanRow.id).in_(_ROW_IDS),
        or_(
            col(ExportPlanRow.published_version_id).is_(None),
            col(ExportPlanRow.published_version_id) != col(ExportPlanRow.current_version_id),
        ),
    )
    .order_by(col(ExportPlanRow.id))
)
_MARK_PUBLISHED = (
    update(ExportPlanRow)
    .where(col(ExportPlanRow.id).in_(_ROW_IDS))
    .values(published_version_id=ExportPlanRow.current_version_id)
)


def publish_current_many(row_ids: list[int], *, contents: dict[str, bytes] | None = None) -> list[int]:
    """Make heroes' stable files hold their current versions' bytes (a shot's sizes together, in one transaction of
    three statements); returns the row ids written. `contents`: the bytes of version keys the caller just stored,
    copied without reading them back (any other current version is read from storage).

    Runs under the rows' locks (a no-op UPDATE: row locks on PostgreSQL, the write lock on SQLite), which a
    pointer move also takes, so publishes are ordered like the moves and the last one copies the last pointer
    whatever order overlapping jobs finish in. A crash before the commit leaves `published_version_id` behind
    `current_version_id`, which `reconcile_stable_copies` repairs."""
    ids = sorted(set(row_ids))  # one lock order for every publisher
    if not ids:
        return []
    storage = get_storage()
    with session_scope() as session:
        execute(session, _LOCK_ROWS, {"row_ids": ids})
        stale = execute(session, _UNPUBLISHED, {"row_ids": ids}).all()
        if not stale:
            return []
        # Rows from before published_version_id existed are rewritten once too: on S3 that also replaces the
        # `immutable` Cache-Control their stable objects were once stored with.
        known = contents or {}
        for _, filename, storage_key in stale:
            data = known.get(storage_key)
            if data is None:
                storage.put(filename, storage.get(storage_key))
            else:  # the bytes just stored under storage_key: a local file is linked, not written again
                storage.put_copy(filename, storage_key, data)
        written = [row_id for row_id, _, _ in stale if row_id is not None]
        # Under the locks the pointers are still the versions just copied.
        execute(session, _MARK_PUBLISHED, {"row_ids": written})
        return written


def stale_stable_copies() -> list[int]:
    """Plan rows whose stable file may not hold the current version (a publish that never finished)."""
    with session_scope() as session:
        found = session.exec(
            select(ExportPlanRow.id).where(
                col(ExportPlanRow.current_version_id).is_not(None),
                or_(
                    col(ExportPlanRow.published_version_id).is_(None),
                    col(ExportPlanRow.published_version_id) != col(ExportPlanRow.current_version_id),
                ),
            )
        )
        return [row_id for row_id in found if row_id is not None]  # the key column: never None once stored


def reconcile_stable_copies() -> list[int]:
    """Republish every hero whose stable file lags its pointer; returns the plan row ids written."""
    written = []
    for row_id in stale_stable_copies():
        try:
            if publish_current(row_id):
                written.append(row_id)
        except StorageKeyNotFound as e:  # the version's file is gone: one line a round, not a traceback each time
            log.warning("Could not publish the stable copy of plan row %s: %s", row_id, e.message)
        except ReshootError:
            log.warning("Could not publish the stable copy of plan row %s", row_id, exc_info=True)
    return written


def served_key(key: str) -> str:
    """The key whose bytes `/assets/{key}` serves: a hero's stable filename resolves to its current version's
    file (so a client never sees anything but the current image, even while a publish is pending); any other
    key is itself."""
    with session_scope() as session:
        version_key = session.exec(
            select(ImageVersion.storage_key)
            .join(ExportPlanRow, col(ExportPlanRow.current_version_id) == ImageVersion.id)
            .where(ExportPlanRow.filename == key, col(ImageVersion.file_deleted).is_(False))
        ).first()
    return version_key or key


class ReviewDecisionOptions(Options):
    """A reviewer's decision on one image version: `approved`, `rejected` (or back to `pending`), with an optional
    note (trimmed; empty is none)."""

    state: Annotated[ReviewState, Field(strict=False)]  # the value as text, as a form or JSON sends it
    note: str | None = None


# --- Use cases -------------------------------------------------------------------------------------------


def list_versions(target_kind: str, target_id: str | int) -> list[ListedVersion]:
    """A target's versions, newest first, each with `isCurrent`."""
    target_id = str(target_id)
    with session_scope() as session:
        _check_target(session, target_kind, target_id)
        current = _current_id(session, target_kind, target_id)
        rows = session.exec(
            select(ImageVersion, Job.requested_by)  # who asked for each version (the job that made it)
            .outerjoin(Job, col(Job.id) == ImageVersion.job_id)
            .where(ImageVersion.target_kind == target_kind, ImageVersion.target_id == target_id)
            .order_by(col(ImageVersion.version).desc())
        ).all()
        return [ListedVersion(**dict(version_public(v, current_id=current)), created_by=by) for v, by in rows]


def get_version(version_id: int) -> VersionPublic:
    with session_scope() as session:
        version = _load(session, version_id)
        return version_public(version, current_id=_current_id(session, version.target_kind, version.target_id))


def _load(session: Session, version_id: int) -> ImageVersion:
    version = session.get(ImageVersion, int(version_id)) if str(version_id).isdigit() else None
    if version is None:
        raise ReshootError("VERSION_NOT_FOUND", 404, {"versionId": version_id}, "Image version not found")
    return version


@requires(Role.reviewer)
def restore_version(version_id: int) -> VersionPublic:
    """Make an older version current again (its file must still exist)."""
    with session_scope() as session:
        version = _load(session, version_id)
        if version.file_deleted:
            raise ReshootError(
                "VERSION_FILE_DELETED", 409, {"versionId": version.id}, "This version's file was removed by retention"
            )
        previous = _current_id(session, version.target_kind, version.target_id)
        before = {"currentVersionId": previous}
        record(
            session,
            action=AuditAction.restore_version,
            target=version_target(session, version),
            before=before,
            after={"currentVersionId": version.id, "version": version.version},
        )
        set_current(session, version)
        if version.target_kind == TargetKind.sentence:
            sentence = get_row(session, Sentence, version.target_id)
            sentence.is_image_dirty = (sentence.image_prompt or "") != version.prompt
            sentence.is_video_dirty = True  # the video was made from the image that is no longer current
            session.add(sentence)
    if version.target_kind == TargetKind.hero:
        publish_current(int(version.target_id))
    return get_version(stored_id(version))


def _update(version_id: int, action: AuditAction, **values: bool) -> VersionPublic:
    with session_scope() as session:
        version = _load(session, version_id)
        before = {name: getattr(version, name) for name in values}
        for name, value in values.items():
            setattr(version, name, value)
        session.add(version)
        record(session, action=action, target=version_target(session, version), before=before, after=values)
    return get_version(stored_id(version))


@requires(Role.reviewer)
def set_favourite(version_id: int, favourite: bool) -> VersionPublic:
    """A favourite is never deleted by retention."""
    return _update(version_id, AuditAction.favourite, favourite=bool(favourite))


@requires(Role.reviewer)
def set_locked(version_id: int, locked: bool) -> VersionPublic:
    """A locked version is never deleted, and while current, generation never replaces it."""
    return _update(version_id, AuditAction.lock_version, locked=bool(locked))


@requires(Role.reviewer)
def set_review(*, version_id: int, options: ReviewDecisionOptions) -> VersionPublic:
    """Record the current actor's decision; the newest decision is the version's state, older ones stay. The same
    person's same decision again (a double click, a key pressed twice before the page redrew) records nothing."""
    note, actor = _review_note(options.note), current_actor()
    with session_scope() as session:
        version = _load(session, version_id)
        if not _repeats_latest(session, version, options.state, note, actor):
            _decide(session, version, version_target(session, version), options.state, note, actor, utcnow())
    return get_version(stored_id(version))


def _repeats_latest(
    session: Session, version: ImageVersion, state: ReviewState, note: str | None, actor: Actor
) -> bool:
    """Is (state, note) by `actor` what the version's newest decision already says?"""
    if (version.review_state, version.review_note) != (str(state), note):
        return False
    latest = session.exec(
        select(ReviewDecision.reviewer_email)
        .where(ReviewDecision.version_id == version.id)
        .order_by(col(ReviewDecision.id).desc())
        .limit(1)
    ).first()
    return latest == actor.email


def _review_state(state: str) -> ReviewState:
    if state not in tuple(ReviewState):
        raise invalid_request([{"field": "state", "message": f"must be one of {', '.join(tuple(ReviewState))}"}])
    return ReviewState(state)


def _review_note(note: object) -> str | None:
    if note is not None and not isinstance(note, str):
        raise invalid_request([{"field": "note", "message": "must be text"}])
    require_storable({"note": note})
    return (note or "").strip() or None


def _decide(
    session: Session,
    version: ImageVersion,
    target: Target,
    state: ReviewState,
    note: str | None,
    actor: Actor,
    now: datetime,
) -> None:
    """One decision: its history row, the version's state, the work item's Updated and the audit row."""
    before = {"state": version.review_state, "reviewer": version.reviewer}
    assert version.id is not None  # a stored version
    session.add(
        ReviewDecision(
            version_id=version.id,
            decision=str(state),
            reviewer_email=actor.email,
            reviewer_name=actor.name,
            note=note,
            at=now,
        )
    )
    version.review_state, version.reviewer, version.review_note, version.reviewed_at = (
        str(state),
        actor.label,
        note,
        now,
    )
    session.add(version)
    if target.work_item_id:
        _touch_work_item(session, target.work_item_id)
    record(
        session,
        action=AuditAction.review,
        target=target,
        before=before,
        after={"state": str(state), "reviewer": actor.label, "note": note},
    )


@requires(Role.reviewer)
def decide_many(
    *,
    state: str,
    note: str | None = None,
    version_ids: list[int] | None = None,
    work_item_id: str | None = None,
    sku: str | None = None,
) -> BulkDecisionResult:
    """One decision (`state`, one `note`) on many hero images at once, in one transaction, one audit row each.

    Either `version_ids` (e.g. the current images of the cards someone selected; every id must exist and be a
    hero image) or a filter: every *pending* current hero of `work_item_id` and/or of `sku`."""
    decided, note = _review_state(state), _review_note(note)
    if (version_ids is None) == (work_item_id is None and sku is None):
        raise invalid_request(
            [{"field": "versionIds", "message": "give either versionIds or a workItemId / sku filter, not both"}]
        )
    if version_ids is not None:
        ids = _bulk_ids(version_ids)
        query = _hero_rows().where(col(ImageVersion.id).in_(ids))
    else:
        only = ReviewQueueFilter(work_item_id=work_item_id, sku=sku)
        query = _filtered(_hero_rows(current_only=True), only)
    actor, now = current_actor(), utcnow()
    with session_scope() as session:
        found = session.exec(query.order_by(col(ImageVersion.created_at), col(ImageVersion.id))).all()
        if version_ids is not None:
            missing = sorted(set(ids) - {version.id for version, _, _ in found if version.id is not None})
            if missing:
                raise ReshootError(
                    "VERSION_NOT_FOUND", 404, {"versionIds": missing}, f"No hero image version {missing[0]}"
                )
        for version, row, shot in found:
            target = Target(
                AuditTargetKind.version,
                str(version.id),
                work_item_id=row.work_item_id,
                shot_id=shot.shot_id,
                size_label=row.size_label,
            )
            _decide(session, version, target, decided, note, actor, now)
        return BulkDecisionResult(
            state=decided,
            note=note,
            version_ids=[version.id for version, _, _ in found if version.id is not None],
            work_item_ids=sorted({row.work_item_id for _, row, _ in found}),
        )


def _bulk_ids(version_ids: object) -> list[int]:
    if not isinstance(version_ids, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in version_ids
    ):
        raise invalid_request([{"field": "versionIds", "message": "must be a list of version ids"}])
    if not 1 <= len(version_ids) <= MAX_BULK_VERSIONS:
        raise invalid_request([{"field": "versionIds", "message": f"give 1 to {MAX_BULK_VERSIONS} version ids"}])
    return sorted(set(version_ids))


def review_history(version_ids: list[int]) -> dict[int, list[DecisionRead]]:
    """Every decision on these versions, newest first (the first is the state); one query."""
    if not version_ids:
        return {}
    query = (
        select(ReviewDecision)
        .where(col(ReviewDecision.version_id).in_([int(v) for v in version_ids]))
        .order_by(col(ReviewDecision.version_id), col(ReviewDecision.id).desc())
    )
    found: dict[int, list[DecisionRead]] = {int(v): [] for v in version_ids}
    with session_scope() as session:
        for d in session.exec(query):
            found[d.version_id].append(DecisionRead.model_validate(d))
    return found


def _hero_rows(*, current_only: bool = False) -> Any:
    """Hero image versions with their export plan row and shot: every version of a row, or only current ones."""
    on = (
        col(ExportPlanRow.current_version_id) == ImageVersion.id
        if current_only
        else and_(
            col(ImageVersion.target_kind) == TargetKind.hero, cast(ExportPlanRow.id, String) == ImageVersion.target_id
        )
    )
    return (
        select(ImageVersion, ExportPlanRow, Shot)
        .join(ExportPlanRow, on)
        .join(Shot, col(Shot.id) == ExportPlanRow.shot_pk)
    )


def _filtered(query: Any, only: ReviewQueueFilter) -> Any:
    """`query` (of images joined to their export plan rows) narrowed to the filter's review state, work item, SKU,
    size and backend."""
    return _narrowed(query, **_filter_values(only))


def _filter_values(only: ReviewQueueFilter) -> dict[str, Any]:
    """The filter's values (checked storable) by `_narrowed`'s names; None for any."""
    require_storable(
        {"workItemId": only.work_item_id, "sku": only.sku, "sizeLabel": only.size_label, "backend": only.backend}
    )
    return {
        "state": str(only.state),
        "work_item_id": only.work_item_id,
        "sku": only.sku,
        "size_label": only.size_label,
        "backend": only.backend,
    }


def _narrowed(query: Any, *, state: Any, work_item_id: Any, sku: Any, size_label: Any, backend: Any) -> Any:
    """`_filtered`'s conditions, each on a value or a bound parameter (None: any). With a SKU, the state is compared
    as an expression (`state || ''`), which no index serves: SQLite then starts from the SKU's few shots (its index)
    instead of walking every image in the queue's order (0.6 s at 100,000 pending)."""
    review_state = col(ImageVersion.review_state)
    query = query.where((review_state.concat("") if sku is not None else review_state) == state)
    if work_item_id is not None:
        query = query.where(ExportPlanRow.work_item_id == work_item_id)
    if sku is not None:
        query = query.where(col(ExportPlanRow.shot_pk).in_(select(Shot.id).where(Shot.sku == sku)))
    if size_label is not None:
        query = query.where(ExportPlanRow.size_label == size_label)
    if backend is not None:
        query = query.where(ImageVersion.backend == backend)
    return query


def _queue_order(*, descending: bool = False) -> tuple[Any, Any]:
    created, version_id = col(ImageVersion.created_at), col(ImageVersion.id)
    return (created.desc(), version_id.desc()) if descending else (created, version_id)


def review_queue(
    *,
    only: ReviewQueueFilter | None = None,
    start: QueueCursor | None = None,
    before: QueueCursor | None = None,
    limit: int = 50,
) -> list[QueuedHero]:
    """Current hero images in a review state (pending by default), oldest first, with their work item, shot, size
    and how they were made; one query. Paged by keyset: `start` gives the images from that place on (itself
    included), `before` the `limit` images just before that place (still oldest first)."""
    if start is not None and before is not None:
        raise invalid_request([{"field": "before", "message": "give start or before, not both"}])
    only = only or ReviewQueueFilter()
    query = _filtered(_hero_rows(current_only=True), only).add_columns(WorkItem.title, _previous_version_id())
    query = query.join(WorkItem, col(WorkItem.id) == ExportPlanRow.work_item_id)
    place = tuple_(col(ImageVersion.created_at), col(ImageVersion.id))
    if start is not None:
        query = query.where(place >= tuple_(literal(start.created_at, UTCDateTime()), literal(start.version_id)))
    if before is not None:
        query = query.where(place < tuple_(literal(before.created_at, UTCDateTime()), literal(before.version_id)))
    query = query.order_by(*_queue_order(descending=before is not None)).limit(max(1, min(limit, 500)))
    storage = get_storage()
    with session_scope() as session:
        found = [
            QueuedHero(
                version_id=version.id,
                version=version.version,
                row_id=row.id,
                work_item_id=row.work_item_id,
                work_item_title=title,
                shot_id=shot.shot_id,
                sku=shot.sku,
                size_label=row.size_label,
                width=row.width,
                height=row.height,
                filename=row.filename,
                url=None if version.file_deleted else storage.url(version.storage_key),
                thumb_url=storage.url(version.thumb_key) if version.thumb_key and not version.file_deleted else None,
                prompt=version.prompt,
                seed=version.seed,
                seed_honoured=version.seed_honoured,
                backend=version.backend,
                model=version.model,
                references=list(version.references or []),
                created_at=version.created_at,
                review_state=ReviewState(version.review_state),
                previous_version_id=previous_id,
            )
            for version, row, shot, title, previous_id in session.exec(query)
        ]
    return found[::-1] if before is not None else found


def _previous_version_id() -> Any:
    """The version before an image's, of the same target, whose file is still kept (what `V` compares with); a
    lookup by the target index, made only for the rows a page returns."""
    previous = aliased(ImageVersion)
    return (
        select(previous.id)
        .where(
            previous.target_kind == ImageVersion.target_kind,
            previous.target_id == ImageVersion.target_id,
            previous.version < ImageVersion.version,
            col(previous.file_deleted).is_(False),
        )
        .order_by(col(previous.version).desc())
        .limit(1)
        .scalar_subquery()
    )


@cache
def _count_query(narrowed_by: frozenset[str], capped: bool) -> Any:
    """`review_queue_count`'s statement for a filter giving `narrowed_by` (of `_narrowed`'s names), built once: its
    values and the cap are bound parameters of those names."""
    joined = select(ImageVersion.id).join(ExportPlanRow, col(ExportPlanRow.current_version_id) == ImageVersion.id)
    names = ("work_item_id", "sku", "size_label", "backend")
    matching = _narrowed(
        joined, state=bindparam("state"), **{name: bindparam(name) if name in narrowed_by else None for name in names}
    )
    if capped:
        matching = matching.limit(bindparam("cap", type_=Integer))
    return select(func.count()).select_from(matching.subquery())


def review_queue_count(*, only: ReviewQueueFilter | None = None, cap: int | None = None) -> int:
    """How many current hero images the queue holds for this filter (pending by default); one query. With `cap`,
    counting stops there (a badge saying "1000+" need not count 100,000 rows)."""
    params = {name: value for name, value in _filter_values(only or ReviewQueueFilter()).items() if value is not None}
    query = _count_query(frozenset(params) - {"state"}, cap is not None)
    with get_engine().connect() as db:  # one number: no ORM session needed
        return int(db.execute(query, params | {"cap": max(cap or 0, 0)}).scalar_one())


def hero_size_labels() -> list[str]:
    """Every size label of the export plans, sorted (what the queue's size filter offers); one query."""
    with session_scope() as session:
        return list(session.exec(select(ExportPlanRow.size_label).distinct().order_by(ExportPlanRow.size_label)))
