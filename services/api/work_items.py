"""Work items, their Lifestyle Pack, hero generation (spec 001) and per-shot references (spec 000)."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import StringConstraints
from starlette.concurrency import run_in_threadpool

from services import lifestyle, reviews, work_items
from services.api.bodies import json_body, json_body_doc, read_upload
from services.api.schemas import (
    TOO_LARGE,
    Deleted,
    DemoWorkItemId,
    JobStarted,
    ReferenceList,
    WorkItemDetailOut,
    WorkItemPageOut,
    error_responses,
)
from services.api.security import allow
from services.api.waits import failed_job_error
from services.config import get_settings
from services.enums import JobStatus
from services.errors import not_found
from services.identity import Role
from services.lifestyle import GenerateHeroesOptions, ReferenceUpload
from services.read_models.heroes import HeroesJobResult, HeroesJobStarted, ReferencesAdded

router = APIRouter(prefix="/api/work-items", tags=["work items"], dependencies=[allow(Role.viewer)])

INVALID = {400: "INVALID_REQUEST, with details"}
FILE_FIELDS = ("files", "files[]")
JOB_FAILED = {
    422: "BACKEND_CONTENT_REJECTED: the backend's content policy refused the prompt or a reference",
    429: "BACKEND_RATE_LIMITED: the backend is rate limiting; try again later",
    502: "BACKEND_ERROR: the backend answered something unusable",
    503: "BACKEND_UNAVAILABLE, BACKEND_MISCONFIGURED or WORKER_DIED",
    504: "BACKEND_TIMEOUT: the backend did not answer in time",
}


@router.get("", response_model=WorkItemPageOut, responses=error_responses(INVALID))
def list_items(
    search: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    has_pack: Annotated[bool | None, Query(alias="hasPack")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=200)] = 25,
) -> WorkItemPageOut:
    """Work items, filtered and paginated in SQL; each with id, title, status, shotCount and its image counts."""
    result = work_items.list_work_items(search=search, status=status, has_pack=has_pack, page=page, page_size=page_size)
    return WorkItemPageOut(**dict(result))


@router.get(
    "/{work_item_id}/export.zip",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "A ZIP of the approved heroes at their export-plan filenames, with manifest.json and "
            "manifest.csv listing every target (approved or not)",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        },
        **error_responses({**INVALID, 404: "WORK_ITEM_NOT_FOUND or LIFESTYLE_PACK_NOT_FOUND"}),
    },
)
def export_zip(
    work_item_id: DemoWorkItemId,
    shot_ids: Annotated[
        list[Annotated[str, StringConstraints(max_length=64)]] | None, Query(alias="shotId", max_length=500)
    ] = None,
    sku: Annotated[str | None, Query(max_length=128)] = None,
) -> StreamingResponse:
    """The approved current heroes (optionally only `shotId=…` repeated, or one `sku`), streamed as a ZIP while
    it is made; shots and sizes without an approved image are in the manifest with their status."""
    export = reviews.export_approved(work_item_id=work_item_id, shot_ids=shot_ids, sku=sku)
    disposition = f'attachment; filename="{export.download_name}"'
    return StreamingResponse(export.chunks, media_type="application/zip", headers={"Content-Disposition": disposition})


@router.get(
    "/{work_item_id}", response_model=WorkItemDetailOut, responses=error_responses({404: "WORK_ITEM_NOT_FOUND"})
)
def get_item(work_item_id: DemoWorkItemId) -> WorkItemDetailOut:
    """One work item with its Lifestyle Pack: shots and their export plan rows (also flat as `exportPlan`)."""
    item = work_items.get_work_item(work_item_id)
    return WorkItemDetailOut(**dict(item), export_plan=[row for shot in item.shots for row in shot.rows])


def _preferences(prefer: str | None) -> tuple[bool, float | None]:
    """(respond-async?, wait seconds) from an RFC 7240 Prefer header."""
    respond_async, wait = False, None
    for token in (prefer or "").split(","):
        name, _, value = token.split(";")[0].strip().partition("=")
        if name.lower() == "respond-async":
            respond_async = True
        elif name.lower() == "wait" and value.strip().isdigit():
            wait = float(value.strip())
    return respond_async, wait


def _accepted(started: HeroesJobStarted, *, applied: str | None = None) -> JSONResponse:
    """202 {jobId, workItemId, message}; no "ok", so the spec's client (which reads an ok body as the finished
    result) does not report "No new images created" for a job that is still running."""
    headers = {"Location": f"/api/v1/jobs/{started.job_id}"}
    if applied:
        headers["Preference-Applied"] = applied
    body = started.model_dump(mode="json", include={"job_id", "work_item_id", "message"})
    return JSONResponse(body, status_code=202, headers=headers)


@router.post(
    "/{work_item_id}/generate-lifestyle-heroes",
    response_model=HeroesJobResult,
    responses={
        202: {"model": JobStarted, "description": "Still running (Prefer: respond-async, or the wait limit passed)"},
        **error_responses({**INVALID, 404: "LIFESTYLE_PACK_NOT_FOUND", **TOO_LARGE, **JOB_FAILED}),
    },
    openapi_extra=json_body_doc(GenerateHeroesOptions, required=False),
    dependencies=[allow(Role.reviewer)],
)
async def generate_heroes(
    work_item_id: str,
    request: Request,
    body: GenerateHeroesOptions = json_body(GenerateHeroesOptions),
    prefer: Annotated[str | None, Header()] = None,
) -> Any:
    """Generate Desktop/Tablet/Mobile heroes from Lifestyle Pack v2; answers the spec's result JSON when done.
    Waits without holding a server thread, as long as the job runs (or `RESHOOT_API_WAIT_SECONDS` / `Prefer: wait=N`);
    a failed job answers its error code with a status saying what happened (429, 503, 504, 422, 502)."""
    started = await run_in_threadpool(
        partial(lifestyle.generate_lifestyle_heroes, work_item_id=work_item_id, options=body)
    )
    if not isinstance(started, HeroesJobStarted):  # a dry run's result
        return started
    respond_async, wait = _preferences(prefer)
    if respond_async:
        return _accepted(started, applied="respond-async")
    limit = get_settings().api_wait_seconds or None  # 0: no limit
    timeout = wait if limit is None else limit if wait is None else min(wait, limit)
    job = await request.app.state.job_waiter.wait(started.job_id, timeout)
    if job.status == JobStatus.succeeded:
        return job.result
    if job.status == JobStatus.failed:
        raise failed_job_error(job)
    return _accepted(started)


@router.post(
    "/{work_item_id}/lifestyle-hero-references",
    response_model=ReferencesAdded,
    responses=error_responses(
        {
            400: "INVALID_REQUEST, or INVALID_IMAGE naming the file and why",
            404: "WORK_ITEM_NOT_FOUND or SHOT_NOT_FOUND",
            409: "TOO_MANY_REFERENCES: the shot would pass RESHOOT_MAX_REFERENCES_PER_SHOT",
            **TOO_LARGE,
        }
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["shotId"],
                        "properties": {
                            "workItemId": {"type": "string"},
                            "shotId": {"type": "string"},
                            **{
                                f: {"type": "array", "items": {"type": "string", "format": "binary"}}
                                for f in FILE_FIELDS
                            },
                        },
                    }
                }
            },
        }
    },
    dependencies=[allow(Role.reviewer)],
)
async def add_references(work_item_id: str, request: Request) -> Any:
    """Store reference images for one shot (files under `files` or `files[]`); all or nothing."""
    async with read_upload(request, file_fields=FILE_FIELDS) as upload:  # bounded as it is read
        options = ReferenceUpload.from_form(upload.fields, upload.files, work_item_id=work_item_id)
        return await run_in_threadpool(partial(lifestyle.add_references, work_item_id=work_item_id, options=options))


@router.get(
    "/{work_item_id}/lifestyle-hero-references", response_model=ReferenceList, responses=error_responses(INVALID)
)
def list_references(
    work_item_id: DemoWorkItemId, shot_id: Annotated[str | None, Query(alias="shotId", max_length=64)] = None
) -> ReferenceList:
    """The work item's reference images, for one shot with `?shotId=`."""
    refs = lifestyle.list_references(work_item_id, shot_id)
    return ReferenceList(work_item_id=work_item_id, shot_id=shot_id, references=refs)


@router.delete(
    "/{work_item_id}/lifestyle-hero-references/{ref_id}",
    response_model=Deleted,
    responses=error_responses({404: "REFERENCE_NOT_FOUND"}),
    dependencies=[allow(Role.admin)],
)
def delete_reference(work_item_id: str, ref_id: str) -> Deleted:
    """Remove one reference image (its files too)."""
    if ref_id not in {ref.id for ref in lifestyle.list_references(work_item_id)}:
        raise not_found("REFERENCE_NOT_FOUND", {"id": ref_id})
    lifestyle.delete_reference(ref_id)
    return Deleted(id=ref_id)
