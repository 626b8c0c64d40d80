"""Lifestyle heroes (seeds 001 and 000): a work item's Desktop/Tablet/Mobile heroes from its Lifestyle Pack,
and the reference images attached to each shot.

One backend call per shot, at the backend size nearest the shot's widest target; every export size is cut from
that master around the shot's focal point. Shots run concurrently (RESHOOT_GENERATION_CONCURRENCY). A shot that
fails does not stop the others: the job's result lists it under `failed` and the job still succeeds unless every
shot failed (then it fails with the first shot's error code, and the result is still recorded).
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import secrets
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from services import backends, images, jobs
from services.audit import AuditAction, Target, record
from services.config import get_settings
from services.db import session_scope
from services.errors import ReshootError, invalid_request
from services.identity import current_actor
from services.messages import lifestyle_result_body, shots_failed_body
from services.models import ExportPlanRow, ImageVersion, LifestylePack, Reference, Shot, WorkItem, iso, new_id
from services.storage import get_storage
from services.versions import NewImage, apply_retention, publish_current, save_new_versions, url_for

log = logging.getLogger("reshoot.lifestyle")

KIND = "lifestyle_heroes"
MAX_SHOT_IDS = 500


def heroes_target_key(work_item_id: str, shot_ids: list[str] | None = None) -> str:
    """The dedup key of a generation request: `heroes:7:*` (all shots) or `heroes:7:OL-1,OL-2`."""
    if not shot_ids:
        return f"heroes:{work_item_id}:*"
    joined = ",".join(sorted(set(shot_ids)))
    key = f"heroes:{work_item_id}:{joined}"
    return key if len(key) <= 255 else f"heroes:{work_item_id}:#{hashlib.sha256(joined.encode()).hexdigest()[:32]}"


# --- Planning ---------------------------------------------------------------------------------------------


@dataclass
class ShotPlan:
    shot: Shot
    rows: list[ExportPlanRow]  # every row of the shot, in plan order
    targets: list[ExportPlanRow] = field(default_factory=list)  # the rows to generate


@dataclass
class Plan:
    shots: list[ShotPlan]
    skipped: list[dict[str, Any]]
    missing: list[str]

    def generated(self) -> list[dict[str, Any]]:
        return [_row_json(p.shot, row) for p in self.shots for row in p.targets]


def _row_json(shot: Shot, row: ExportPlanRow) -> dict[str, Any]:
    return {"shot_id": shot.shot_id, "filename": row.filename, "width": row.width, "height": row.height}


def _validate_options(work_item_id: Any, shot_ids: Any, dry_run: Any, overwrite: Any) -> list[str] | None:
    problems = []
    if not isinstance(work_item_id, str) or not work_item_id.strip():
        problems.append({"field": "workItemId", "message": "must be a non-empty string"})
    if shot_ids is not None:
        if not isinstance(shot_ids, (list, tuple)):
            problems.append({"field": "shotIds", "message": "must be a list of shot ids"})
        elif not shot_ids:
            problems.append({"field": "shotIds", "message": "must not be empty; leave it out to generate every shot"})
        elif not all(isinstance(s, str) and s.strip() for s in shot_ids):
            problems.append({"field": "shotIds", "message": "must contain only non-empty strings"})
        elif len(shot_ids) > MAX_SHOT_IDS:
            problems.append({"field": "shotIds", "message": f"at most {MAX_SHOT_IDS} shot ids"})
    for name, value in (("dryRun", dry_run), ("overwrite", overwrite)):
        if not isinstance(value, bool):
            problems.append({"field": name, "message": "must be true or false"})
    if problems:
        raise invalid_request(problems)
    return list(dict.fromkeys(s.strip() for s in shot_ids)) if shot_ids is not None else None


def _require_pack(s: Session, work_item_id: str) -> LifestylePack:
    pack = s.exec(select(LifestylePack).where(LifestylePack.work_item_id == work_item_id)).first()
    if pack is None or s.get(WorkItem, work_item_id) is None:
        raise ReshootError("LIFESTYLE_PACK_NOT_FOUND", 404, None, "Run Lifestyle Pack v2 for this Work Item before generating hero images.")
    return pack


def _plan(s: Session, work_item_id: str, shot_ids: list[str] | None, overwrite: bool) -> Plan:
    """What a request would generate, skip (`EXISTS`, or `LOCKED` when overwriting a locked image) and miss."""
    _require_pack(s, work_item_id)
    shots = s.exec(select(Shot).where(Shot.work_item_id == work_item_id).order_by(col(Shot.position), col(Shot.id))).all()
    rows_by_shot: dict[int, list[ExportPlanRow]] = defaultdict(list)
    for row in s.exec(
        select(ExportPlanRow).where(ExportPlanRow.work_item_id == work_item_id).order_by(col(ExportPlanRow.position), col(ExportPlanRow.id))
    ):
        rows_by_shot[row.shot_pk].append(row)
    current_ids = [r.current_version_id for rows in rows_by_shot.values() for r in rows if r.current_version_id]
    locked_versions = set(
        s.exec(select(ImageVersion.id).where(col(ImageVersion.id).in_(current_ids), col(ImageVersion.locked).is_(True))).all()
    ) if current_ids else set()

    by_id = {shot.shot_id: shot for shot in shots if rows_by_shot.get(shot.id)}
    wanted = shot_ids if shot_ids is not None else list(by_id)
    storage = get_storage()
    plan = Plan(shots=[], skipped=[], missing=[sid for sid in wanted if sid not in by_id])
    for shot_id in (sid for sid in wanted if sid in by_id):
        shot = by_id[shot_id]
        shot_plan = ShotPlan(shot=shot, rows=rows_by_shot[shot.id])
        for row in shot_plan.rows:
            exists = row.current_version_id is not None or storage.exists(row.filename)
            locked = shot.locked or row.current_version_id in locked_versions
            if exists and not overwrite:
                plan.skipped.append({**_without_size(_row_json(shot, row)), "reason": "EXISTS"})
            elif exists and locked:
                plan.skipped.append({**_without_size(_row_json(shot, row)), "reason": "LOCKED"})
            else:
                shot_plan.targets.append(row)
        if shot_plan.targets:
            plan.shots.append(shot_plan)
    return plan


def _without_size(item: dict[str, Any]) -> dict[str, Any]:
    return {"shot_id": item["shot_id"], "filename": item["filename"]}


def _result(work_item_id: str, *, dry_run: bool, overwrite: bool, plan: Plan, generated: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "ok": True,
        "workItemId": work_item_id,
        "dryRun": dry_run,
        "overwrite": overwrite,
        "generated": generated,
        "skippedExisting": plan.skipped,
        "missingShots": plan.missing,
    }


# --- Use cases ----------------------------------------------------------------------------------------


def generate_lifestyle_heroes(
    work_item_id: str,
    *,
    shot_ids: list[str] | None = None,
    dry_run: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Dry run: the seed's result JSON at once, no backend call. Otherwise one job (or the target's running job):
    `{"ok": True, "jobId", "workItemId", "message"}`; the job's `result` is the seed's JSON plus `failed`."""
    shot_ids = _validate_options(work_item_id, shot_ids, dry_run, overwrite)
    with session_scope() as s:
        plan = _plan(s, work_item_id, shot_ids, overwrite)
    if dry_run:
        return _result(work_item_id, dry_run=True, overwrite=overwrite, plan=plan, generated=plan.generated())
    job, created = jobs.enqueue(
        KIND,
        heroes_target_key(work_item_id, shot_ids),
        {"shotIds": shot_ids, "overwrite": overwrite},
        work_item_id=work_item_id,
        action=AuditAction.generate_heroes,
        progress_total=sum(len(p.targets) for p in plan.shots),
    )
    message = "Lifestyle hero generation started" if created else "Lifestyle hero generation is already running for these shots"
    return {"ok": True, "jobId": job["id"], "workItemId": work_item_id, "message": message}


def run_job(ctx: jobs.JobContext) -> dict[str, Any]:
    """The job: generate every planned shot, concurrently; record which shots failed."""
    overwrite = bool(ctx.params.get("overwrite"))
    with session_scope() as s:
        plan = _plan(s, ctx.work_item_id, ctx.params.get("shotIds"), overwrite)
    total = sum(len(p.targets) for p in plan.shots)
    ctx.progress(0, total, f"Generating {total} images for {len(plan.shots)} shots")
    backend = backends.get_backend()
    references = _references_for(ctx.work_item_id, [p.shot.shot_id for p in plan.shots]) if backend.capabilities.accepts_references else {}

    failures: dict[str, dict[str, Any]] = {}
    done = 0
    workers = max(1, min(get_settings().generation_concurrency, len(plan.shots)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"shots-{ctx.id}") as pool:
        # Each shot runs in a copy of this context, so its versions are recorded as the job's requester.
        futures = [(p, pool.submit(contextvars.copy_context().run, _generate_shot, ctx, backend, p, references.get(p.shot.shot_id, [])))
                   for p in plan.shots]
        for shot_plan, future in futures:
            try:
                future.result()
            except Exception as e:
                if not isinstance(e, ReshootError):
                    log.exception("Shot %s of job %s failed", shot_plan.shot.shot_id, ctx.id)
                failures[shot_plan.shot.shot_id] = {
                    "shot_id": shot_plan.shot.shot_id,
                    "error": getattr(e, "code", "INTERNAL_ERROR"),
                    "message": getattr(e, "message", None) or str(e),
                }
            done += len(shot_plan.targets)
            ctx.progress(done, total, f"{done} of {total} images done")

    generated = [_row_json(p.shot, row) for p in plan.shots if p.shot.shot_id not in failures for row in p.targets]
    result = {**_result(ctx.work_item_id, dry_run=False, overwrite=overwrite, plan=plan, generated=generated), "failed": list(failures.values())}
    if failures and not generated:
        first = next(iter(failures.values()))
        raise jobs.JobFailed(first["error"], f"Every shot failed; {first['shot_id']}: {first['message']}", detail=result["failed"], result={**result, "ok": False})
    ctx.message = lifestyle_result_body(result)
    if failures:
        ctx.message += " " + shots_failed_body(list(failures.values()))
    return result


def retry(job: dict[str, Any]) -> dict[str, Any]:
    """Run a lifestyle job again: only its failed shots if some succeeded, else the same request."""
    params, result = job["params"], job.get("result") or {}
    failed = [f["shot_id"] for f in result.get("failed") or []]
    shot_ids = failed if failed and result.get("generated") else params.get("shotIds")
    return generate_lifestyle_heroes(job["workItemId"], shot_ids=shot_ids, overwrite=bool(params.get("overwrite")))


@dataclass
class _Ref:
    id: str
    data: bytes


def _references_for(work_item_id: str, shot_ids: list[str]) -> dict[str, list[_Ref]]:
    if not shot_ids:
        return {}
    with session_scope() as s:
        rows = s.exec(
            select(Reference)
            .where(Reference.work_item_id == work_item_id, col(Reference.shot_id).in_(shot_ids))
            .order_by(col(Reference.created_at), col(Reference.id))
        ).all()
    storage, found = get_storage(), defaultdict(list)
    for ref in rows:
        try:
            found[ref.shot_id].append(_Ref(ref.id, storage.get(ref.storage_key)))
        except ReshootError:
            log.warning("Reference %s has no file at %s; generating without it", ref.id, ref.storage_key)
    return found


def _generate_shot(ctx: jobs.JobContext, backend: backends.ImageBackend, plan: ShotPlan, refs: list[_Ref]) -> None:
    shot = plan.shot
    widest = max(plan.rows, key=lambda r: (r.width, r.height))
    width, height = backends.nearest_size(backend.capabilities, widest.width, widest.height)
    limit = backend.capabilities.max_references
    refs = refs[:limit] if limit else refs
    seed = secrets.randbelow(2**31)
    prompt = shot.prompt.strip() or f"Lifestyle photo featuring product {shot.sku}"
    with jobs.backend_slot():
        master = backend.generate(prompt, width=width, height=height, seed=seed, references=[r.data for r in refs])
    targets = [(r.width, r.height, r.filename) for r in plan.targets]
    exports = images.export_sizes_with_thumbnails(
        master, targets, focal=(shot.focal_x, shot.focal_y), label=backend.capabilities.label
    )
    new_images = [
        NewImage(
            target_kind="hero",
            target_id=str(row.id),
            base_key=row.filename,
            data=data,
            width=row.width,
            height=row.height,
            prompt=prompt,
            seed=seed,
            seed_honoured=backend.capabilities.honours_seed,
            backend=backend.name,
            model=backend.model,
            references=[r.id for r in refs],
            job_id=ctx.id,
            thumbnail=thumb,
        )
        for row, (data, thumb) in zip(plan.targets, exports)
    ]
    moved: set[int] = set()

    def move_pointers(s: Session, versions: list[ImageVersion]) -> None:
        for version in versions:
            row = s.get(ExportPlanRow, int(version.target_id))
            current = s.get(ImageVersion, row.current_version_id) if row.current_version_id else None
            if current is not None and (current.locked or s.get(Shot, row.shot_pk).locked):
                continue  # locked while we were generating: keep the new image as a non-current version
            row.current_version_id = version.id
            s.add(row)
            moved.add(row.id)

    save_new_versions(new_images, move_pointers)
    for row in plan.targets:
        if row.id in moved:
            publish_current(row.id)
            apply_retention("hero", str(row.id))


# --- Reference images (seed 000) -------------------------------------------------------------------------


def _reference_json(ref: Reference) -> dict[str, Any]:
    return {
        "id": ref.id,
        "url": url_for(ref.storage_key),
        "thumbUrl": url_for(ref.thumb_key),
        "filename": ref.storage_key.rsplit("/", 1)[-1],  # the stored name, as seed 000 answers (`ref_123.png`)
        "originalFilename": ref.filename,
        "shotId": ref.shot_id,
        "width": ref.width,
        "height": ref.height,
        "uploadedBy": ref.uploaded_by,
        "createdAt": iso(ref.created_at),
    }


def add_references(work_item_id: str, shot_id: str, files: Sequence[tuple[str, bytes | BinaryIO]]) -> dict[str, Any]:
    """Store reference images for one shot: all of them or, if any file is bad, none (seed 000's answer shape).

    Files are bytes or files (the API's spooled temp files, Streamlit's uploads), counted and sized before any is
    read, then decoded one at a time, stored, and let go. An image the shot already has (the same normalised
    bytes, also when sent twice at once or by parallel requests) is stored once: the existing reference is
    returned. A shot holds at most `RESHOOT_MAX_REFERENCES_PER_SHOT` references."""
    _check_upload(files)
    with session_scope() as s:
        _require_shot(s, work_item_id, shot_id)
        existing = {r.sha256: r for r in s.exec(select(Reference).where(Reference.work_item_id == work_item_id, Reference.shot_id == shot_id))}
    _check_room(shot_id, len(existing), adding=0)
    storage, written, new_refs, order = get_storage(), [], {}, []
    try:
        for name, content in files:
            image = images.validate_upload(content, filename=name, max_side=images.REFERENCE_MAX_SIDE)
            order.append(image.sha256)
            if image.sha256 in existing or image.sha256 in new_refs:
                continue
            ref = _new_reference(work_item_id, shot_id, name, image)
            storage.put(ref.storage_key, image.data, content_type=image.content_type)
            written.append(ref.storage_key)
            storage.put(ref.thumb_key, image.thumbnail, content_type="image/webp")
            written.append(ref.thumb_key)
            new_refs[image.sha256] = ref
            del image  # one decoded image at a time
        _check_room(shot_id, len(existing), adding=len(new_refs))
        stored = _insert_references(work_item_id, shot_id, list(new_refs.values()))
    except BaseException:
        for key in written:
            storage.delete(key)
        raise
    for sha256, ref in new_refs.items():
        if stored[sha256].id != ref.id:  # a parallel request stored the same image first: keep theirs
            storage.delete(ref.storage_key)
            storage.delete(ref.thumb_key)
    answer = {**existing, **stored}
    unique = list({answer[sha256].id: answer[sha256] for sha256 in order}.values())
    return {"ok": True, "shotId": shot_id, "references": [_reference_json(r) for r in unique]}


def _check_upload(files: Sequence[tuple[str, bytes | BinaryIO]]) -> None:
    """Count and size the files before reading any: INVALID_REQUEST for none or too many, PAYLOAD_TOO_LARGE for
    too many bytes together (each file's own cap is checked, naming it, when it is read)."""
    settings = get_settings()
    if not isinstance(files, (list, tuple)) or not files:
        raise invalid_request([{"field": "files", "message": "at least one image is required"}])
    if len(files) > settings.max_upload_files:
        raise ReshootError(
            "INVALID_REQUEST", 400, [{"field": "files", "message": f"at most {settings.max_upload_files} images at once"}],
            f"At most {settings.max_upload_files} images at once (RESHOOT_MAX_UPLOAD_FILES); this upload has {len(files)}.",
        )
    total = sum(images.upload_size(content) for _, content in files)
    if total > settings.max_upload_request_bytes:
        raise ReshootError(
            "PAYLOAD_TOO_LARGE", 413, {"maxBytes": settings.max_upload_request_bytes, "bytes": total},
            f"These files are {total / 2**20:.0f} MB together; one upload may be at most "
            f"{settings.max_upload_request_mb} MB (RESHOOT_MAX_UPLOAD_REQUEST_MB).",
        )


def _check_room(shot_id: str, existing: int, *, adding: int) -> None:
    """TOO_MANY_REFERENCES (409) naming the cap when the shot is full or `adding` more would pass the cap."""
    cap = get_settings().max_references_per_shot
    if existing + adding > cap or (adding == 0 and existing >= cap):
        raise ReshootError(
            "TOO_MANY_REFERENCES", 409, {"shotId": shot_id, "maxReferences": cap, "existing": existing, "adding": adding},
            f"{shot_id} can have at most {cap} reference images (RESHOOT_MAX_REFERENCES_PER_SHOT); it has {existing}"
            + (f" and this upload adds {adding}" if adding else "") + ". Remove some first.",
        )


def _new_reference(work_item_id: str, shot_id: str, name: str, image: images.ValidatedImage) -> Reference:
    ref_id = new_id("ref")
    prefix = f"fcc/lifestyle_refs/{work_item_id}/{shot_id}/{ref_id}"
    return Reference(
        id=ref_id,
        work_item_id=work_item_id,
        shot_id=shot_id,
        storage_key=f"{prefix}.{image.ext}",
        thumb_key=f"{prefix}.thumb.webp",
        filename=str(name)[:255] or "upload",
        content_type=image.content_type,
        width=image.width,
        height=image.height,
        sha256=image.sha256,
        uploaded_by=current_actor().email,
    )


def _insert_references(work_item_id: str, shot_id: str, refs: list[Reference]) -> dict[str, Reference]:
    """Insert `refs`, skipping any image the shot got meanwhile (the unique (work item, shot, sha256) index, with
    INSERT … ON CONFLICT DO NOTHING, so parallel uploads of one image store one row); sha256 -> the stored row.
    The shot's row is locked first (PostgreSQL; SQLite's writer lock does the same), so the cap holds under races."""
    by_sha = {ref.sha256: ref for ref in refs}
    with session_scope() as s:
        s.exec(select(Shot.id).where(Shot.work_item_id == work_item_id, Shot.shot_id == shot_id).with_for_update())
        insert = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}[s.get_bind().dialect.name]
        inserted = []
        for ref in refs:
            statement = insert(Reference).values(**ref.model_dump()).on_conflict_do_nothing(
                index_elements=["work_item_id", "shot_id", "sha256"])
            if s.exec(statement).rowcount == 1:
                inserted.append(ref)
        count = s.exec(select(func.count()).select_from(Reference).where(
            Reference.work_item_id == work_item_id, Reference.shot_id == shot_id)).one()
        if count > get_settings().max_references_per_shot:  # the other request won the room: roll back ours
            _check_room(shot_id, count - len(inserted), adding=len(inserted))
        if inserted:
            record(s, action=AuditAction.upload_references, target=Target("shot", shot_id, work_item_id, shot_id),
                   after={"references": [{"id": r.id, "filename": r.filename, "sha256": r.sha256} for r in inserted]})
        stored = s.exec(select(Reference).where(
            Reference.work_item_id == work_item_id, Reference.shot_id == shot_id, col(Reference.sha256).in_(list(by_sha)))).all()
    return {ref.sha256: ref for ref in stored}


def _require_shot(s: Session, work_item_id: str, shot_id: str) -> Shot:
    if not isinstance(work_item_id, str) or s.get(WorkItem, work_item_id) is None:
        raise ReshootError("WORK_ITEM_NOT_FOUND", 404, {"workItemId": str(work_item_id)}, "Work item not found")
    shot = s.exec(select(Shot).where(Shot.work_item_id == work_item_id, Shot.shot_id == shot_id)).first() if isinstance(shot_id, str) else None
    if shot is None:
        raise ReshootError("SHOT_NOT_FOUND", 404, {"workItemId": work_item_id, "shotId": str(shot_id)}, "Shot not found")
    return shot


def list_references(work_item_id: str, shot_id: str | None = None) -> list[dict[str, Any]]:
    """A work item's (or one shot's) references, oldest first."""
    query = select(Reference).where(Reference.work_item_id == work_item_id)
    if shot_id is not None:
        query = query.where(Reference.shot_id == shot_id)
    with session_scope() as s:
        return [_reference_json(r) for r in s.exec(query.order_by(col(Reference.created_at), col(Reference.id)))]


def delete_reference(reference_id: str) -> None:
    with session_scope() as s:
        ref = s.get(Reference, reference_id) if isinstance(reference_id, str) else None
        if ref is None:
            raise ReshootError("REFERENCE_NOT_FOUND", 404, {"referenceId": str(reference_id)}, "Reference not found")
        keys = [k for k in (ref.storage_key, ref.thumb_key) if k]
        s.delete(ref)
        record(s, action=AuditAction.delete_reference, target=Target("reference", ref.id, ref.work_item_id, ref.shot_id),
               before={"filename": ref.filename, "sha256": ref.sha256, "uploadedBy": ref.uploaded_by})
    storage = get_storage()
    for key in keys:
        storage.delete(key)


def set_shot_locked(work_item_id: str, shot_id: str, locked: bool) -> dict[str, Any]:
    """A locked shot's existing images are never overwritten by generation."""
    with session_scope() as s:
        shot = _require_shot(s, work_item_id, shot_id)
        record(s, action=AuditAction.lock_shot, target=Target("shot", shot_id, work_item_id, shot_id),
               before={"locked": shot.locked}, after={"locked": bool(locked)})
        shot.locked = bool(locked)
        s.add(shot)
    return {"ok": True, "shotId": shot_id, "locked": bool(locked)}
