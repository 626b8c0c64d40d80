"""Job rows as the UI, the CLI and the API read them: one job, several, a page of them, the active job of a target,
and the events jobs leave. Reading a running job first fails it if its worker died (see recovery.py)."""

from __future__ import annotations

import time

from sqlalchemy import func
from sqlmodel import col, select

from services.db import get_row, session_scope
from services.enums import ACTIVE_STATUSES, JobKind, JobStatus
from services.errors import ReshootError
from services.identity import Actor, Role, current_actor
from services.jobs import recovery
from services.models import Event, Job
from services.read_models.jobs import EventPublic, JobPublic

REAP_EVERY_SECONDS = 1.0  # reading a running job checks its worker at most this often


def job_public(job: Job) -> JobPublic:
    """The job as pages, the CLI and the API show it (and its kind's handlers read it, `plan` included)."""
    return JobPublic.model_validate(job)


_last_reaped: dict[str, float] = {}


def get_job(job_id: str) -> JobPublic:
    """The job; a running one whose worker died is failed first (at most once a second per job)."""
    with session_scope() as session:
        job = session.get(Job, job_id) if isinstance(job_id, str) else None
        if job is None:
            raise ReshootError("JOB_NOT_FOUND", 404, {"jobId": str(job_id)}, "Job not found")
    now = time.monotonic()
    if job.status == JobStatus.running and now - _last_reaped.get(job_id, 0.0) >= REAP_EVERY_SECONDS:
        _last_reaped[job_id] = now
        if len(_last_reaped) > 10_000:
            _last_reaped.clear()
        if recovery.recover_orphaned_jobs(job_ids=[job_id]):
            with session_scope() as session:
                job = get_row(session, Job, job_id)
    return job_public(job)


def get_jobs(job_ids: list[str]) -> dict[str, JobPublic]:
    """Several jobs in one query, by id; unknown ids are left out."""
    ids = [i for i in dict.fromkeys(job_ids) if isinstance(i, str)]
    if not ids:
        return {}
    with session_scope() as session:
        return {job.id: job_public(job) for job in session.exec(select(Job).where(col(Job.id).in_(ids)))}


def list_jobs(
    *,
    status: JobStatus | None = None,
    kind: JobKind | None = None,
    work_item_id: str | None = None,
    sentence_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[JobPublic]:
    """Newest first."""
    query = select(Job)
    for column, value in (
        (Job.status, status),
        (Job.kind, kind),
        (Job.work_item_id, work_item_id),
        (Job.sentence_id, sentence_id),
    ):
        if value is not None:
            query = query.where(column == value)
    query = (
        query.order_by(col(Job.created_at).desc(), col(Job.id)).offset(max(0, offset)).limit(max(1, min(limit, 1000)))
    )
    with session_scope() as session:
        found = list(session.exec(query))
    running = [job.id for job in found if job.status == JobStatus.running]
    now = time.monotonic()
    if (
        running and now - _last_reaped.get("*list*", 0.0) >= REAP_EVERY_SECONDS
    ):  # a Jobs page never shows dead work as running
        _last_reaped["*list*"] = now
        if recovery.recover_orphaned_jobs(job_ids=running):
            with session_scope() as session:
                found = list(session.exec(query))
    return [job_public(job) for job in found]


def active_job_for(target_key: str) -> JobPublic | None:
    with session_scope() as session:
        job = session.exec(
            select(Job).where(Job.target_key == target_key, col(Job.status).in_(ACTIVE_STATUSES))
        ).first()
        return job_public(job) if job else None


def active_jobs_for(target_keys: list[str]) -> dict[str, JobPublic]:
    """target key -> its queued/running job, in one query (for grids)."""
    if not target_keys:
        return {}
    with session_scope() as session:
        query = select(Job).where(col(Job.target_key).in_(list(set(target_keys))), col(Job.status).in_(ACTIVE_STATUSES))
        return {job.target_key: job_public(job) for job in session.exec(query)}


def events_since(
    *, project_id: str | None = None, work_item_id: str | None = None, after_id: int = 0, limit: int = 200
) -> list[EventPublic]:
    """Events newer than `after_id`, oldest first."""
    query = select(Event).where(col(Event.id) > int(after_id or 0))
    if project_id is not None:
        query = query.where(Event.project_id == project_id)
    if work_item_id is not None:
        query = query.where(Event.work_item_id == work_item_id)
    with session_scope() as session:
        rows = session.exec(query.order_by(col(Event.id)).limit(max(1, min(limit, 1000)))).all()
        return [EventPublic.model_validate(event) for event in rows]


def latest_event_id(*, project_id: str) -> int:
    """The id of the project's newest event, 0 if none."""
    with session_scope() as session:
        return session.exec(select(func.max(Event.id)).where(Event.project_id == project_id)).one() or 0


def requester(job_requested_by: str | None) -> Actor:
    """Who a job's changes are recorded for: the person who requested it (the local user for older jobs)."""
    return Actor(email=job_requested_by, name="", role=Role.reviewer) if job_requested_by else current_actor()
