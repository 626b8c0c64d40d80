"""Reviews: export what was approved (issue 13 item 8).

`export_approved` answers a typed manifest at once (one row per export-plan target of the selected shots) and
the ZIP as an iterator of bytes, made while it is read: one image at a time from storage, stored (PNGs are
compressed already), then `manifest.json` and `manifest.csv`. A target without an approved current image is
in the manifest with its status, never silently left out; an approved image whose file cannot be read becomes
"file missing" (the manifests are written after the images, so they say so).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from zipfile import ZIP_DEFLATED, ZIP_STORED

from pydantic import BaseModel
from sqlmodel import col, select
from zipstream import ZipStream

from services.auth import requires
from services.db import session_scope
from services.enums import ReviewState
from services.errors import ReshootError, invalid_request, not_found
from services.identity import Role, current_actor
from services.models import ExportPlanRow, ImageVersion, LifestylePack, Shot, WorkItem, iso, stored_id, utcnow
from services.storage import StorageKeyNotFound, get_storage
from services.versions import review_history

MANIFEST_JSON = "manifest.json"
MANIFEST_CSV = "manifest.csv"


class ExportStatus(StrEnum):
    approved = "approved"
    not_approved = "not approved"  # the current image is pending or rejected
    no_image = "no image"  # never generated, or its file was removed by retention
    file_missing = "file missing"  # approved, but storage had no file when the ZIP was written


class ManifestEntry(BaseModel):
    """One export-plan target (a shot's size) and what the ZIP holds for it."""

    workItemId: str
    shotId: str
    sku: str
    sizeLabel: str
    width: int
    height: int
    filename: str  # the export plan's filename: the file's path inside the ZIP
    status: ExportStatus
    reviewState: str | None = None
    versionId: int | None = None
    version: int | None = None
    seed: int | None = None
    seedHonoured: bool | None = None
    prompt: str | None = None
    backend: str | None = None
    model: str | None = None
    references: list[str] = []
    reviewer: str | None = None
    reviewerEmail: str | None = None
    decidedAt: str | None = None
    fileSize: int | None = None  # bytes in the ZIP (known once it was written)


class ExportManifest(BaseModel):
    workItemId: str
    title: str
    shotIds: list[str] | None = None
    sku: str | None = None
    exportedAt: str
    exportedBy: str
    entries: list[ManifestEntry]

    @property
    def approved(self) -> list[ManifestEntry]:
        return [e for e in self.entries if e.status is ExportStatus.approved]


CSV_COLUMNS = [name for name in ManifestEntry.model_fields]


@dataclass
class ApprovedExport:
    manifest: ExportManifest
    chunks: Iterator[bytes]  # the ZIP; reading it fills in `fileSize` and "file missing" on the manifest's entries
    download_name: str


@requires(Role.viewer)
def export_approved(*, work_item_id: str, shot_ids: list[str] | None = None, sku: str | None = None) -> ApprovedExport:
    """The approved current heroes of a work item (optionally only these shots / this SKU) as a streamed ZIP at
    their export-plan filenames, with a manifest in JSON and CSV. 404 for an unknown work item or one without a
    Lifestyle Pack, 400 for shot ids or a SKU it does not have."""
    manifest = _manifest(work_item_id, shot_ids, sku)
    return ApprovedExport(manifest, _zip_chunks(manifest), download_name(work_item_id))


def download_name(work_item_id: str) -> str:
    """`work-item-7-approved.zip`: the name a browser saves the export under."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(work_item_id))[:60]
    return f"work-item-{safe}-approved.zip"


def _manifest(work_item_id: str, shot_ids: list[str] | None, sku: str | None) -> ExportManifest:
    with session_scope() as session:
        item = session.get(WorkItem, work_item_id) if isinstance(work_item_id, str) else None
        if item is None:
            raise ReshootError("WORK_ITEM_NOT_FOUND", 404, {"workItemId": work_item_id}, f"No work item {work_item_id}")
        if session.exec(select(LifestylePack.id).where(LifestylePack.work_item_id == work_item_id)).first() is None:
            raise not_found("LIFESTYLE_PACK_NOT_FOUND", {"workItemId": work_item_id})
        query = (
            select(ExportPlanRow, Shot, ImageVersion)
            .join(Shot, col(Shot.id) == ExportPlanRow.shot_pk)
            .join(ImageVersion, col(ImageVersion.id) == ExportPlanRow.current_version_id, isouter=True)
            .where(ExportPlanRow.work_item_id == work_item_id)
            .order_by(col(Shot.position), col(Shot.id), col(ExportPlanRow.id))
        )
        if shot_ids is not None:
            query = query.where(col(Shot.shot_id).in_(shot_ids))
        if sku is not None:
            query = query.where(Shot.sku == sku)
        rows = session.exec(query).all()
        title = item.title
    _check_filters(rows, shot_ids, sku)
    decisions = review_history([stored_id(v) for _, _, v in rows if v is not None and not v.file_deleted])
    entries = [_entry(row, shot, version, decisions) for row, shot, version in rows]
    return ExportManifest(
        workItemId=work_item_id,
        title=title,
        shotIds=shot_ids,
        sku=sku,
        exportedAt=iso(utcnow()),
        exportedBy=current_actor().label,
        entries=entries,
    )


def _check_filters(
    rows: Sequence[tuple[ExportPlanRow, Shot, ImageVersion | None]], shot_ids: list[str] | None, sku: str | None
) -> None:
    found = {shot.shot_id for _, shot, _ in rows}
    unknown = [shot_id for shot_id in shot_ids or [] if shot_id not in found]
    if unknown:
        raise invalid_request([{"field": "shotIds", "message": f"not in this work item: {', '.join(unknown)}"}])
    if sku is not None and not rows:
        raise invalid_request([{"field": "sku", "message": f"no shot with SKU {sku} in this work item"}])


def _entry(row: ExportPlanRow, shot: Shot, version: ImageVersion | None, decisions: dict) -> ManifestEntry:
    target = ManifestEntry(
        workItemId=row.work_item_id,
        shotId=shot.shot_id,
        sku=shot.sku,
        sizeLabel=row.size_label,
        width=row.width,
        height=row.height,
        filename=row.filename,
        status=ExportStatus.no_image,
    )
    if version is None or version.file_deleted:
        return target
    latest = (decisions.get(version.id) or [None])[0]
    return target.model_copy(
        update={
            "status": ExportStatus.approved
            if version.review_state == ReviewState.approved
            else ExportStatus.not_approved,
            "reviewState": version.review_state,
            "versionId": version.id,
            "version": version.version,
            "seed": version.seed,
            "seedHonoured": version.seed_honoured,
            "prompt": version.prompt,
            "backend": version.backend,
            "model": version.model,
            "references": list(version.references or []),
            "reviewer": latest.reviewer if latest else version.reviewer,
            "reviewerEmail": latest.reviewer_email if latest else None,
            "decidedAt": iso(latest.at if latest else version.reviewed_at),
        }
    )


def _zip_chunks(manifest: ExportManifest) -> Iterator[bytes]:
    """The ZIP, one image read and written at a time; the manifests last, so they say what really went in."""
    archive, storage = ZipStream(compress_type=ZIP_STORED), get_storage()
    approved = [(entry, entry.versionId) for entry in manifest.approved if entry.versionId is not None]
    keys = _storage_keys([version_id for _, version_id in approved])
    for entry, version_id in approved:
        try:
            data = storage.get(keys[version_id])
        except StorageKeyNotFound:
            entry.status = ExportStatus.file_missing
            continue
        entry.fileSize = len(data)
        archive.add(data, entry.filename)
        del data  # the archive holds it until it is written just below; nothing else keeps it
        yield from archive.all_files()
    archive.add(manifest.model_dump_json(indent=2), MANIFEST_JSON, compress_type=ZIP_DEFLATED)
    archive.add(manifest_csv(manifest), MANIFEST_CSV, compress_type=ZIP_DEFLATED)
    yield from archive.finalize()


def _storage_keys(version_ids: list[int]) -> dict[int, str]:
    if not version_ids:
        return {}
    with session_scope() as session:
        query = select(ImageVersion.id, ImageVersion.storage_key).where(col(ImageVersion.id).in_(version_ids))
        return {version_id: key for version_id, key in session.exec(query) if version_id is not None}


def manifest_csv(manifest: ExportManifest) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for entry in manifest.entries:
        row = entry.model_dump(mode="json")
        row["references"] = " ".join(row["references"])
        writer.writerow(row)
    return out.getvalue()
