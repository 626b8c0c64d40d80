"""Generation jobs: the Job row is the truth the UI reads; Huey (SQLite by default, Redis at scale) carries the work.

Life of a job: a use case validates and calls `enqueue()` with the job's units (a shot's heroes, a sentence's
image). In one transaction it inserts a `queued` Job row (the partial unique index `uq_job_active_target` allows
one queued/running job per request target, so an identical request gets the first job back) and one
GenerationClaim per unit. A claim's partial unique index `uq_claim_active_target` allows one queued/running claim
per unit target: a unit another job already queued or runs is *joined* (linked to this job through JobClaim,
listed in `Job.joined`) instead of generated twice. Every new claim is its own Huey task, so the shots of one job
spread over every consumer thread of every worker process on every machine.

A consumer claims a claim (`running`, worker id, heartbeat), calls the kind's `run_claim(ctx)` (the module named
in HANDLERS) and records the claim's outcome; the job's progress is the weight of its finished claims. When the
last claim a job waits for ends, the handler's `summarize(job, claims)` turns the outcomes into the job's result
JSON (`succeeded`) or raises JobFailed (`failed`), and a job_complete / job_failed event is written.

Every consumer has a WorkerProcess row with a heartbeat; a running claim whose worker stopped, died (pid gone on
this host) or went silent is failed (`WORKER_DIED`), and its worker marked stopped, by the next request for its
target, by reading the job, by any consumer that starts and by any live consumer's heartbeat, so a dead job ends
even when no worker is left. Its job then fails or lists the shot under `failed`; a retry generates only those.

Backend calls are bounded per process (RESHOOT_GENERATION_CONCURRENCY) and, with RESHOOT_BACKEND_CONCURRENCY, across
every process by leases on BackendLease rows.
"""

from __future__ import annotations

import atexit
import importlib
import json
import logging
import os
import random
import secrets
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

from huey import PriorityRedisHuey, SqliteHuey
from huey.api import Huey, TaskWrapper
from huey.consumer import Consumer
from sqlalchemy import case, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from services.audit import AuditAction, Target, record
from services.auth import require
from services.config import get_settings
from services.db import session_scope
from services.enums import ACTIVE_STATUSES, FINISHED_STATUSES, AuditTargetKind, JobKind, JobStatus
from services.errors import ReshootError
from services.identity import Actor, Role, acting_as, current_actor
from services.models import BackendLease, Event, GenerationClaim, Job, JobClaim, WorkerProcess, iso, utcnow

log = logging.getLogger("reshoot.jobs")

HEARTBEAT_SECONDS = 2.0
WORKER_STALE_SECONDS = 15.0  # a consumer silent this long is presumed dead
JOB_STALE_SECONDS = 30.0  # a running job or claim without a heartbeat this long is presumed orphaned
LOST_AFTER_SECONDS = 30.0  # a queued claim this old whose message is not on the queue gets its message again
LEASE_SECONDS = 30.0  # a backend lease not renewed this long (its holder died) is free again
REAP_EVERY_SECONDS = 1.0  # reading a running job checks its worker at most this often
SMALL_JOB = 4  # a job of at most this many new units (a regenerated shot, a sentence) goes ahead of bigger ones
SMALL_JOB_PRIORITY = 10

# kind -> module with `run_claim(ctx) -> dict` (one unit's outcome), `summarize(job, claims) -> (result, message)`,
# `units_for(job) -> (units, plan)` (for a queued job recorded without claims) and `retry(job) -> dict` (a new job)
HANDLERS = {JobKind.lifestyle_heroes: "services.lifestyle", JobKind.sentence_image: "services.storyboard"}
# kind -> `jobType` of the job_complete / job_failed events (spec 002 listens for "image")
JOB_TYPES = {JobKind.lifestyle_heroes: "lifestyle_heroes", JobKind.sentence_image: "image"}

WORKER_DIED_MESSAGE = "The worker running this job stopped before it finished. Retry to generate what is missing."
WORKER_DIED_UNIT_MESSAGE = "The worker generating this stopped before it finished"


class JobFailed(Exception):
    """Raised by a handler to fail its job (or claim) with a code and message while still recording a result."""

    def __init__(self, code: str, message: str, *, detail: Any = None, result: dict | None = None):
        super().__init__(message)
        self.code, self.message, self.detail, self.result = code, message, detail, result


@dataclass(frozen=True)
class Unit:
    """One thing a job generates: `target_key` is what only one worker may generate at a time."""

    target_key: str  # "hero:7:OL-1", "sentence:sent_001"
    subject: str  # the shot id or sentence id, as results name it
    weight: int = 1  # progress units (images)


@dataclass(frozen=True)
class ClaimOutcome:
    """A finished unit as a job's `summarize` sees it (its own or one it joined)."""

    subject: str
    status: str  # a JobStatus
    outcome: dict[str, Any] | None
    error_code: str | None
    message: str
    detail: str | None
    joined: bool
    job_id: str  # the job that generated it


# --- Job rows ------------------------------------------------------------------------------------------


def job_json(job: Job) -> dict[str, Any]:
    """The camelCase job dict pages, the CLI and the API show."""
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "progressDone": job.progress_done,
        "progressTotal": job.progress_total,
        "message": job.message,
        "errorCode": job.error_code,
        "errorDetail": job.error_detail,
        "result": job.result,
        "workItemId": job.work_item_id,
        "sentenceId": job.sentence_id,
        "projectId": job.project_id,
        "targetKey": job.target_key,
        "params": job.params,
        "joined": list(job.joined or []),
        "attempts": job.attempts,
        "workerId": job.worker_id,
        "requestedBy": job.requested_by,
        "createdAt": iso(job.created_at),
        "startedAt": iso(job.started_at),
        "finishedAt": iso(job.finished_at),
    }


_last_reaped: dict[str, float] = {}


def get_job(job_id: str) -> dict[str, Any]:
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
        if recover_orphaned_jobs(job_ids=[job_id]):
            with session_scope() as session:
                job = session.get(Job, job_id)
    return job_json(job)


def get_jobs(job_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Several jobs in one query, by id; unknown ids are left out."""
    ids = [i for i in dict.fromkeys(job_ids) if isinstance(i, str)]
    if not ids:
        return {}
    with session_scope() as session:
        return {job.id: job_json(job) for job in session.exec(select(Job).where(col(Job.id).in_(ids)))}


def list_jobs(
    *,
    status: JobStatus | None = None,
    kind: JobKind | None = None,
    work_item_id: str | None = None,
    sentence_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
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
        if recover_orphaned_jobs(job_ids=running):
            with session_scope() as session:
                found = list(session.exec(query))
    return [job_json(job) for job in found]


def active_job_for(target_key: str) -> dict[str, Any] | None:
    with session_scope() as session:
        job = session.exec(
            select(Job).where(Job.target_key == target_key, col(Job.status).in_(ACTIVE_STATUSES))
        ).first()
        return job_json(job) if job else None


def active_jobs_for(target_keys: list[str]) -> dict[str, dict[str, Any]]:
    """target key -> its queued/running job, in one query (for grids)."""
    if not target_keys:
        return {}
    with session_scope() as session:
        query = select(Job).where(col(Job.target_key).in_(list(set(target_keys))), col(Job.status).in_(ACTIVE_STATUSES))
        return {job.target_key: job_json(job) for job in session.exec(query)}


def events_since(
    *, project_id: str | None = None, work_item_id: str | None = None, after_id: int = 0, limit: int = 200
) -> list[dict[str, Any]]:
    """Events newer than `after_id`, oldest first: `{id, type, payload, createdAt}`."""
    query = select(Event).where(col(Event.id) > int(after_id or 0))
    if project_id is not None:
        query = query.where(Event.project_id == project_id)
    if work_item_id is not None:
        query = query.where(Event.work_item_id == work_item_id)
    with session_scope() as session:
        rows = session.exec(query.order_by(col(Event.id)).limit(max(1, min(limit, 1000)))).all()
        return [{"id": e.id, "type": e.type, "payload": e.payload, "createdAt": iso(e.created_at)} for e in rows]


def latest_event_id(*, project_id: str) -> int:
    """The id of the project's newest event, 0 if none."""
    with session_scope() as session:
        return session.exec(select(func.max(Event.id)).where(Event.project_id == project_id)).one() or 0


# --- Recording a job ----------------------------------------------------------------------------------------


def enqueue(
    kind: JobKind,
    target_key: str,
    params: dict[str, Any],
    *,
    units: list[Unit],
    plan: dict[str, Any] | None = None,
    work_item_id: str | None = None,
    sentence_id: str | None = None,
    project_id: str | None = None,
    action: AuditAction,
) -> tuple[dict[str, Any], bool]:
    """Record a queued job (requested by the current actor, with its audit row `action`) with its units and queue
    the units nobody works on yet; (job, True), or (the active job, False) if an identical request is queued or
    running. A job with nothing to do ends at once."""
    if kind not in HANDLERS:
        raise ValueError(f"Unknown job kind {kind!r}")
    _reap_targets(target_key, [u.target_key for u in units])
    for _ in range(5):
        try:
            with session_scope() as session:
                job = Job(
                    kind=kind,
                    target_key=target_key,
                    params=params,
                    plan=plan,
                    work_item_id=work_item_id,
                    sentence_id=sentence_id,
                    project_id=project_id,
                    requested_by=current_actor().email,
                    message="Queued",
                )
                session.add(job)
                session.flush()  # an identical active request fails here, before any claim
                new_claims = _link_units(session, job, units)
                record(session, action=action, target=_job_target(job), after={"jobId": job.id, **params})
            break
        except IntegrityError:
            active = active_job_for(target_key)  # the one queued/running job for this target
            if active is not None:
                return active, False
    else:
        raise ReshootError("INTERNAL_ERROR", 500, {"targetKey": target_key}, "Could not record the job")
    _send(job.id, new_claims)
    if not units:
        _finalize(job.id)
    return get_job(job.id), True


def _link_units(session: Session, job: Job, units: list[Unit]) -> list[int]:
    """Claim each unit for `job`, or join the claim already queued/running for it; returns the new claims' ids.
    Units go in target order, so two requests never wait on each other's claims in opposite orders."""
    new_claims, joined, total = [], [], 0
    for position, unit in sorted(enumerate(units), key=lambda pair: pair[1].target_key):
        claim, is_new = _claim_unit(session, job, unit)
        session.add(JobClaim(job_id=job.id, claim_id=claim.id, joined=not is_new, position=position))
        total += claim.weight
        if is_new:
            new_claims.append(claim.id)
        else:
            joined.append(
                (
                    position,
                    {
                        "shot_id" if job.kind == JobKind.lifestyle_heroes else "subject": unit.subject,
                        "jobId": claim.job_id,
                    },
                )
            )
    job.joined = [entry for _, entry in sorted(joined, key=lambda pair: pair[0])]
    job.progress_total = total
    session.add(job)
    return new_claims


def _claim_unit(session: Session, job: Job, unit: Unit) -> tuple[GenerationClaim, bool]:
    for _ in range(5):
        active = session.exec(
            select(GenerationClaim).where(
                GenerationClaim.target_key == unit.target_key, col(GenerationClaim.status).in_(ACTIVE_STATUSES)
            )
        ).first()
        if active is not None:
            return active, False
        try:
            with session.begin_nested():  # on PostgreSQL a concurrent insert of the same target waits, then fails here
                claim = GenerationClaim(
                    job_id=job.id,
                    kind=job.kind,
                    target_key=unit.target_key,
                    subject=unit.subject,
                    work_item_id=job.work_item_id,
                    weight=unit.weight,
                )
                session.add(claim)
                session.flush()
            return claim, True
        except IntegrityError:
            continue  # someone claimed it first: join theirs
    raise ReshootError("INTERNAL_ERROR", 500, {"targetKey": unit.target_key}, "Could not claim the work")


def _send(job_id: str, claim_ids: list[int]) -> None:
    """Put claims on the queue; if the queue is down, they and the job fail (the targets are free again)."""
    if not claim_ids:
        return
    queue = _queue()
    # A click on one shot must not wait behind the hundreds of shots of a generate-all queued before it.
    priority = SMALL_JOB_PRIORITY if len(claim_ids) <= SMALL_JOB else 0
    try:
        for claim_id in claim_ids:
            queue.claim_task(claim_id, priority=priority)
    except Exception as e:
        with session_scope() as session:
            session.exec(
                update(GenerationClaim)
                .where(col(GenerationClaim.id).in_(claim_ids), GenerationClaim.status == JobStatus.queued)
                .values(
                    status=JobStatus.failed,
                    error_code="QUEUE_UNAVAILABLE",
                    message="The job queue is unavailable",
                    error_detail=str(e),
                    finished_at=utcnow(),
                )
            )
        _finalize_linked(claim_ids)
        raise ReshootError(
            "QUEUE_UNAVAILABLE",
            503,
            {"queue": queue.identity},
            f"The job queue is unavailable: {e}. Check RESHOOT_QUEUE_URL (and that Redis runs).",
        ) from e


def _job_target(job: Job) -> Target:
    shots = (job.params or {}).get("shotIds") or []
    return Target(
        AuditTargetKind.job,
        job.id,
        work_item_id=job.work_item_id,
        shot_id=shots[0] if len(shots) == 1 else None,
        sentence_id=job.sentence_id,
        project_id=job.project_id,
    )


def retry_job(job_id: str) -> dict[str, Any]:
    """Run a finished job again (a lifestyle job: only its failed shots, if some succeeded); returns the new job.
    A reviewer may retry their own jobs; anyone's needs admin."""
    actor = require(Role.reviewer)
    job = get_job(job_id)
    if job["requestedBy"] != actor.email:
        require(Role.admin)
    if job["status"] in ACTIVE_STATUSES:
        return job
    module = importlib.import_module(HANDLERS[job["kind"]])
    started = module.retry(job)
    # A use case answers a typed `…JobStarted` model (storyboard) or, until converted, the spec's `{"jobId": …}`.
    new_job_id = started["jobId"] if isinstance(started, dict) else started.job_id
    with session_scope() as session:  # the new job's own row (its use case's action) is written with it
        record(
            session,
            action=AuditAction.retry_job,
            target=_job_target(session.get(Job, new_job_id)),
            before={"jobId": job_id, "status": job["status"]},
            after={"jobId": new_job_id},
        )
    return get_job(new_job_id)


def requester(job_requested_by: str | None) -> Actor:
    """Who a job's changes are recorded for: the person who requested it (the local user for older jobs)."""
    return Actor(email=job_requested_by, name="", role=Role.reviewer) if job_requested_by else current_actor()


# Jobs finished by this process (its embedded consumers) wake waiters at once; `_ended_count` tells a waiter
# whether one ended between its read of the row and its wait.
_job_ended = threading.Condition()
_ended_count = 0
OTHER_PROCESS_CHECK_SECONDS = 0.25  # how often a waiter re-reads the row for jobs other processes run


def wait_until_finished(job_id: str, timeout: float) -> dict[str, Any]:
    """The job once it has finished, or as it is after `timeout` seconds. Costs almost nothing while waiting: a
    job this process runs wakes the waiter when it ends; one run elsewhere (a worker) is re-read every
    OTHER_PROCESS_CHECK_SECONDS. Starts no consumer (see `wait_for_job`)."""
    deadline = time.monotonic() + timeout
    while True:
        seen = _ended_count
        job = get_job(job_id)
        left = deadline - time.monotonic()
        if job["status"] in FINISHED_STATUSES or left <= 0:
            return job
        with _job_ended:
            if _ended_count == seen:
                _job_ended.wait(min(left, OTHER_PROCESS_CHECK_SECONDS))


def _announce_job_ended() -> None:
    global _ended_count
    with _job_ended:
        _ended_count += 1
        _job_ended.notify_all()


def wait_for_job(job_id: str, timeout: float | None = None) -> dict[str, Any]:
    """Poll until the job is finished (or `timeout` seconds passed; then the job as it is now).

    With no live consumer for this queue anywhere (a fresh machine, the CLI with --wait), an embedded consumer
    is started in this process so the job runs, unless RESHOOT_EMBEDDED_WORKERS=0 says workers run elsewhere."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay, next_check = 0.02, 0.0
    while True:
        job = get_job(job_id)
        if job["status"] in FINISHED_STATUSES:
            return job
        now = time.monotonic()
        if now >= next_check:
            next_check = now + 1.0
            if get_settings().embedded_workers is not False and not consumer_alive():
                start_embedded_worker()
        if deadline is not None and now >= deadline:
            return job
        time.sleep(delay if deadline is None else max(0.0, min(delay, deadline - now)))
        delay = min(delay * 1.5, 0.25)


# --- Running a claim --------------------------------------------------------------------------------------


@dataclass
class ClaimContext:
    """What a handler's `run_claim` gets: the unit, the parameters of the job that claimed it, reporting."""

    claim_id: int
    id: str  # the job that claimed the unit (new versions record it)
    kind: str
    subject: str
    params: dict[str, Any]
    worker_id: str | None
    work_item_id: str | None = None
    sentence_id: str | None = None
    project_id: str | None = None
    attempts: int = 1
    requested_by: str | None = None

    def report(self, message: str) -> None:
        """Show `message` on every running job waiting for this unit."""
        with session_scope() as session:
            job_ids = select(JobClaim.job_id).where(JobClaim.claim_id == self.claim_id)
            session.exec(
                update(Job)
                .where(col(Job.id).in_(job_ids), Job.status == JobStatus.running)
                .values(message=message, heartbeat_at=utcnow())
            )


def execute_claim(claim_id: int, worker_id: str | None) -> None:
    """Claim a queued unit and run its handler; every outcome ends up on the claim and its jobs."""
    ctx = _start_claim(claim_id, worker_id)
    if ctx is None:
        return  # already claimed, finished or reaped (e.g. a duplicate queue message)
    try:
        with acting_as(requester(ctx.requested_by)):  # its new versions are recorded for the requester
            outcome = importlib.import_module(HANDLERS[ctx.kind]).run_claim(ctx)
    except JobFailed as e:
        _end_claim(
            ctx, status=JobStatus.failed, code=e.code, message=e.message, detail=_detail(e.detail), outcome=e.result
        )
    except ReshootError as e:
        _end_claim(ctx, status=JobStatus.failed, code=e.code, message=e.message, detail=_detail(e.details))
    except Exception as e:
        log.exception("Claim %s of job %s failed", claim_id, ctx.id)
        _end_claim(
            ctx,
            status=JobStatus.failed,
            code="INTERNAL_ERROR",
            message=f"Unexpected error: {e}",
            detail=traceback.format_exc()[-4000:],
        )
    else:
        _end_claim(ctx, status=JobStatus.succeeded, outcome=outcome)


def _detail(detail: Any) -> str | None:
    if detail is None or isinstance(detail, str):
        return detail
    return json.dumps(detail, default=str)


def _start_claim(claim_id: int, worker_id: str | None) -> ClaimContext | None:
    now = utcnow()
    with session_scope() as session:
        claimed = session.exec(
            update(GenerationClaim)
            .where(GenerationClaim.id == claim_id, GenerationClaim.status == JobStatus.queued)
            .values(
                status=JobStatus.running,
                worker_id=worker_id,
                started_at=now,
                heartbeat_at=now,
                attempts=GenerationClaim.attempts + 1,
            )
        ).rowcount
        if claimed != 1:
            return None
        claim = session.get(GenerationClaim, claim_id)
        waiting = select(JobClaim.job_id).where(JobClaim.claim_id == claim_id)
        session.exec(
            update(Job)
            .where(col(Job.id).in_(waiting), Job.status == JobStatus.queued)
            .values(
                status=JobStatus.running,
                worker_id=worker_id,
                started_at=now,
                heartbeat_at=now,
                attempts=Job.attempts + 1,
                message="Starting",
            )
        )
        job = session.get(Job, claim.job_id)
        return ClaimContext(
            claim_id=claim_id,
            id=job.id,
            kind=claim.kind,
            subject=claim.subject,
            params=dict(job.params or {}),
            worker_id=worker_id,
            work_item_id=job.work_item_id,
            sentence_id=job.sentence_id,
            project_id=job.project_id,
            attempts=claim.attempts,
            requested_by=job.requested_by,
        )


def _end_claim(
    ctx: ClaimContext,
    *,
    status: JobStatus,
    outcome: dict | None = None,
    code: str | None = None,
    message: str = "",
    detail: str | None = None,
) -> None:
    with session_scope() as session:
        query = update(GenerationClaim).where(
            GenerationClaim.id == ctx.claim_id, GenerationClaim.status == JobStatus.running
        )
        if ctx.worker_id is not None:
            query = query.where(GenerationClaim.worker_id == ctx.worker_id)
        values = {
            "status": status,
            "outcome": outcome,
            "error_code": code,
            "message": message,
            "error_detail": detail,
            "finished_at": utcnow(),
        }
        if session.exec(query.values(**values)).rowcount != 1:
            return  # reaped meanwhile (its worker was presumed dead): the reaper has finished its jobs
    _finalize_linked([ctx.claim_id])


def _finalize_linked(claim_ids: list[int]) -> None:
    """Update the progress of every job waiting for these claims and finish those with nothing left to wait for."""
    with session_scope() as session:
        job_ids = list(session.exec(select(JobClaim.job_id).where(col(JobClaim.claim_id).in_(claim_ids)).distinct()))
    for job_id in job_ids:
        _finalize(job_id)


def _finalize(job_id: str) -> bool:
    """Progress from the job's finished claims; once none is queued/running, the handler's summary ends the job.
    Reads and writes are separate transactions: on SQLite (WAL) a read transaction that then writes fails at once
    if another connection wrote in between, instead of waiting its turn."""
    linked = select(JobClaim.claim_id).where(JobClaim.job_id == job_id)
    with session_scope() as session:
        job = session.get(Job, job_id)
        if job is None or job.status not in ACTIVE_STATUSES:
            return False
        done, pending = session.exec(  # one aggregate row, however many shots the job has
            select(
                func.coalesce(
                    func.sum(
                        case((col(GenerationClaim.status).in_(FINISHED_STATUSES), GenerationClaim.weight), else_=0)
                    ),
                    0,
                ),
                func.count(case((col(GenerationClaim.status).in_(ACTIVE_STATUSES), 1))),
            ).where(col(GenerationClaim.id).in_(linked))
        ).one()
        if not pending:
            rows = session.exec(
                select(GenerationClaim, JobClaim)
                .join(JobClaim, col(JobClaim.claim_id) == GenerationClaim.id)
                .where(JobClaim.job_id == job_id)
                .order_by(col(JobClaim.position))
            ).all()
    if pending:
        with session_scope() as session:
            session.exec(
                update(Job)
                .where(Job.id == job_id, Job.status == JobStatus.running, Job.progress_done < done)
                .values(progress_done=done, heartbeat_at=utcnow(), message=f"{done} of {job.progress_total} done")
            )
        return False
    outcomes = [
        ClaimOutcome(
            subject=c.subject,
            status=c.status,
            outcome=c.outcome,
            error_code=c.error_code,
            message=c.message,
            detail=c.error_detail,
            joined=link.joined,
            job_id=c.job_id,
        )
        for c, link in rows
    ]
    snapshot = job_json(job) | {"plan": job.plan}
    try:
        result, message = importlib.import_module(HANDLERS[snapshot["kind"]]).summarize(snapshot, outcomes)
    except JobFailed as e:
        return _finish(
            job_id,
            None,
            status=JobStatus.failed,
            code=e.code,
            message=e.message,
            detail=_detail(e.detail),
            result=e.result,
            from_status=ACTIVE_STATUSES,
        )
    except Exception as e:
        log.exception("Summing up job %s failed", job_id)
        return _finish(
            job_id,
            None,
            status=JobStatus.failed,
            code="INTERNAL_ERROR",
            message=f"Unexpected error: {e}",
            detail=traceback.format_exc()[-4000:],
            from_status=ACTIVE_STATUSES,
        )
    return _finish(
        job_id, None, status=JobStatus.succeeded, message=message, result=result, from_status=ACTIVE_STATUSES
    )


def _finish(
    job_id: str,
    worker_id: str | None,
    *,
    status: JobStatus,
    message: str,
    code: str | None = None,
    detail: str | None = None,
    result: dict | None = None,
    from_status: tuple[JobStatus, ...] = (JobStatus.running,),
) -> bool:
    """Move a job to succeeded/failed (only from `from_status`, only if this worker still owns it) plus its event."""
    values: dict[str, Any] = {
        "status": status,
        "message": message,
        "finished_at": utcnow(),
        "error_code": code,
        "error_detail": detail,
    }
    if result is not None:
        values["result"] = result
    with session_scope() as session:
        query = update(Job).where(Job.id == job_id, col(Job.status).in_(from_status))
        if worker_id is not None:
            query = query.where(Job.worker_id == worker_id)
        if session.exec(query.values(**values)).rowcount != 1:
            return False
        job = session.get(Job, job_id)
        if status == JobStatus.succeeded and job.progress_total:
            job.progress_done = job.progress_total
        session.add(_event_for(job))
    _announce_job_ended()  # after the commit: a woken waiter reads the finished row
    return True


def _event_for(job: Job) -> Event:
    payload: dict[str, Any] = {
        "type": "job_complete" if job.status == JobStatus.succeeded else "job_failed",
        "jobType": JOB_TYPES.get(job.kind, job.kind),
        "jobId": job.id,
    }
    for key, value in (
        ("sentenceId", job.sentence_id),
        ("workItemId", job.work_item_id),
        ("projectId", job.project_id),
    ):
        if value is not None:
            payload[key] = value
    if job.error_code:
        payload["error"] = job.error_code
    return Event(project_id=job.project_id, work_item_id=job.work_item_id, type=payload["type"], payload=payload)


def _materialize(job_id: str) -> None:
    """A queued job recorded without claims (before claims existed, or by hand): plan its units now and queue them."""
    with session_scope() as session:
        job = session.get(Job, job_id)
        if (
            job is None
            or job.status != JobStatus.queued
            or session.exec(select(JobClaim).where(JobClaim.job_id == job_id)).first()
        ):
            return
        snapshot = job_json(job)
    try:
        units, plan = importlib.import_module(HANDLERS[snapshot["kind"]]).units_for(snapshot)
    except ReshootError as e:
        _finish(
            job_id,
            None,
            status=JobStatus.failed,
            code=e.code,
            message=e.message,
            detail=_detail(e.details),
            from_status=(JobStatus.queued,),
        )
        return
    with session_scope() as session:
        # Write first: this transaction then holds SQLite's write lock for the reads that follow.
        if not session.exec(
            update(Job).where(Job.id == job_id, Job.status == JobStatus.queued).values(message="Queued")
        ).rowcount:
            return
        job = session.get(Job, job_id)
        if session.exec(select(JobClaim).where(JobClaim.job_id == job_id)).first():
            return
        job.plan = plan
        new_claims = _link_units(session, job, units)
    _send(job_id, new_claims)
    if not units:
        _finalize(job_id)


# --- Dead workers -------------------------------------------------------------------------------------


def recover_orphaned_jobs(job_ids: list[str] | None = None) -> list[str]:
    """Fail running claims (and claim-less running jobs) whose worker is gone (WORKER_DIED), mark such workers
    stopped, and finish the jobs that now wait for nothing; returns the ids of the jobs that ended."""
    now = utcnow()
    with session_scope() as session:
        claims_query = select(GenerationClaim).where(GenerationClaim.status == JobStatus.running)
        jobs_query = select(Job).where(Job.status == JobStatus.running)
        if job_ids is not None:
            claims_query = claims_query.where(
                col(GenerationClaim.id).in_(select(JobClaim.claim_id).where(col(JobClaim.job_id).in_(job_ids)))
            )
            jobs_query = jobs_query.where(col(Job.id).in_(job_ids))
        claims = session.exec(claims_query).all()
        running_jobs = session.exec(jobs_query).all()
        with_claims = (
            set(
                session.exec(
                    select(JobClaim.job_id).where(col(JobClaim.job_id).in_([j.id for j in running_jobs])).distinct()
                )
            )
            if running_jobs
            else set()
        )
    return _reap(claims, [j for j in running_jobs if j.id not in with_claims], now) + _finish_settled(job_ids)


def _reap_targets(job_target: str, unit_targets: list[str]) -> None:
    """Before a request: units (or an identical request's job) held by a dead worker are freed first, so the
    request starts new work instead of joining dead work."""
    now = utcnow()
    with session_scope() as session:
        claims = (
            session.exec(
                select(GenerationClaim).where(
                    col(GenerationClaim.target_key).in_(unit_targets), GenerationClaim.status == JobStatus.running
                )
            ).all()
            if unit_targets
            else []
        )
        job = session.exec(select(Job).where(Job.target_key == job_target, Job.status == JobStatus.running)).first()
    if claims:
        _reap(claims, [], now)
    if job is not None:
        recover_orphaned_jobs(job_ids=[job.id])


def _reap(claims: list[GenerationClaim], claimless_jobs: list[Job], now: datetime) -> list[str]:
    worker_ids = {c.worker_id for c in claims if c.worker_id} | {j.worker_id for j in claimless_jobs if j.worker_id}
    if not worker_ids and not claims and not claimless_jobs:
        return []
    with session_scope() as session:
        workers = (
            {w.id: w for w in session.exec(select(WorkerProcess).where(col(WorkerProcess.id).in_(worker_ids)))}
            if worker_ids
            else {}
        )
    ours = {c.worker_id for c in _consumers.values()}
    dead_workers = {wid for wid in worker_ids if wid not in ours and _worker_dead(workers.get(wid), now)}
    _mark_dead(dead_workers & set(workers), now)

    reaped_claims = []
    for claim in claims:
        if claim.worker_id in ours:
            continue  # a live consumer of this process runs it (even if its row was lost, e.g. a restored database)
        if claim.worker_id in dead_workers or _silent(claim.heartbeat_at or claim.started_at, now):
            with session_scope() as session:
                failed = session.exec(
                    update(GenerationClaim)
                    .where(
                        GenerationClaim.id == claim.id,
                        GenerationClaim.status == JobStatus.running,
                        GenerationClaim.worker_id == claim.worker_id,
                    )
                    .values(
                        status=JobStatus.failed,
                        error_code="WORKER_DIED",
                        message=WORKER_DIED_UNIT_MESSAGE,
                        error_detail=f"worker {claim.worker_id} stopped or stopped answering",
                        finished_at=now,
                    )
                ).rowcount
            if failed:
                log.warning(
                    "Claim %s (%s): worker %s stopped or stopped answering", claim.id, claim.target_key, claim.worker_id
                )
                reaped_claims.append(claim.id)
    ended = []
    if reaped_claims:
        with session_scope() as session:
            job_ids = list(
                session.exec(select(JobClaim.job_id).where(col(JobClaim.claim_id).in_(reaped_claims)).distinct())
            )
        ended += [job_id for job_id in job_ids if _finalize(job_id)]
    for job in claimless_jobs:
        if job.worker_id in ours:
            continue
        if job.worker_id in dead_workers or _silent(job.heartbeat_at or job.started_at, now):
            detail = f"worker {job.worker_id} stopped or stopped answering"
            if _finish(
                job.id,
                job.worker_id,
                status=JobStatus.failed,
                code="WORKER_DIED",
                message=WORKER_DIED_MESSAGE,
                detail=detail,
            ):
                log.warning("Job %s: %s", job.id, detail)
                ended.append(job.id)
    return ended


def _finish_settled(job_ids: list[str] | None) -> list[str]:
    """Active jobs whose claims all ended (e.g. a worker died between ending a claim and ending its job)."""
    with session_scope() as session:
        query = (
            select(Job.id)
            .where(col(Job.status).in_(ACTIVE_STATUSES), col(Job.id).in_(select(JobClaim.job_id)))
            .where(
                ~col(Job.id).in_(
                    select(JobClaim.job_id)
                    .join(GenerationClaim, col(GenerationClaim.id) == JobClaim.claim_id)
                    .where(col(GenerationClaim.status).in_(ACTIVE_STATUSES))
                )
            )
        )
        if job_ids is not None:
            query = query.where(col(Job.id).in_(job_ids))
        settled = list(session.exec(query.limit(500)))
    return [job_id for job_id in settled if _finalize(job_id)]


def _mark_dead(worker_ids: set[str], now: datetime) -> None:
    """Dead workers are marked stopped and their backend leases freed."""
    if not worker_ids:
        return
    with session_scope() as session:
        session.exec(
            update(WorkerProcess)
            .where(col(WorkerProcess.id).in_(worker_ids), col(WorkerProcess.stopped_at).is_(None))
            .values(stopped_at=now)
        )
        for worker_id in worker_ids:
            session.exec(
                update(BackendLease)
                .where(col(BackendLease.holder).startswith(f"{worker_id}/"))
                .values(holder=None, expires_at=None)
            )


def requeue_lost_jobs() -> list[str]:
    """Put queued claims whose queue message is gone (a flushed Redis, a deleted queue file, a crash between the
    commit and the enqueue) back on the queue, so their target is not blocked forever; plan queued jobs that
    have no claims (recorded before an upgrade). A duplicate message is harmless: a claim runs once."""
    cutoff = utcnow() - timedelta(seconds=LOST_AFTER_SECONDS)
    with session_scope() as session:
        queued = session.exec(
            select(GenerationClaim.id)
            .where(GenerationClaim.status == JobStatus.queued, GenerationClaim.created_at < cutoff)
            .order_by(col(GenerationClaim.id))
            .limit(1000)
        ).all()
        claimless = session.exec(
            select(Job.id)
            .where(Job.status == JobStatus.queued, Job.created_at < cutoff, ~col(Job.id).in_(select(JobClaim.job_id)))
            .order_by(col(Job.created_at))
            .limit(500)
        ).all()
    for job_id in claimless:
        log.warning("Job %s was queued without units; planning it now", job_id)
        _materialize(job_id)
    if not queued:
        return list(claimless)
    queue = _queue()
    pending = {task.args[0] for task in queue.huey.pending() if task.args}
    lost = [claim_id for claim_id in queued if claim_id not in pending]
    for claim_id in lost:
        log.warning("Claim %s was queued without a queue message; enqueuing it again", claim_id)
        queue.claim_task(claim_id)
    return list(claimless) + [str(c) for c in lost]


def _worker_dead(worker: WorkerProcess | None, now: datetime) -> bool:
    if worker is None or worker.stopped_at is not None:
        return True
    if worker.heartbeat_at < now - timedelta(seconds=WORKER_STALE_SECONDS):
        return True
    if worker.host == _HOST:
        if worker.pid == os.getpid():
            return worker.id not in {c.worker_id for c in _consumers.values()}  # an earlier consumer of this process
        return not _pid_alive(worker.pid)
    return False


def _silent(last: datetime | None, now: datetime) -> bool:
    return last is not None and last < now - timedelta(seconds=JOB_STALE_SECONDS)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child its parent has not reaped yet is a zombie: dead for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def consumer_alive() -> bool:
    """Is any consumer (this process or another, on any machine) serving the configured queue?"""
    url = get_settings().queue_url
    if url in _consumers:
        return True
    now = utcnow()
    with session_scope() as session:
        workers = session.exec(
            select(WorkerProcess).where(
                WorkerProcess.queue == _identity(url),
                col(WorkerProcess.stopped_at).is_(None),
                WorkerProcess.heartbeat_at >= now - timedelta(seconds=WORKER_STALE_SECONDS),
            )
        ).all()
    return any(not _worker_dead(w, now) for w in workers)


def list_workers() -> list[dict[str, Any]]:
    """Live consumers of the configured queue, with what each is generating now (for Settings)."""
    now = utcnow()
    with session_scope() as session:
        workers = session.exec(
            select(WorkerProcess)
            .where(
                WorkerProcess.queue == _identity(get_settings().queue_url),
                col(WorkerProcess.stopped_at).is_(None),
                WorkerProcess.heartbeat_at >= now - timedelta(seconds=WORKER_STALE_SECONDS),
            )
            .order_by(col(WorkerProcess.started_at))
        ).all()
        alive = [w for w in workers if not _worker_dead(w, now)]
        running = (
            session.exec(
                select(GenerationClaim).where(
                    col(GenerationClaim.worker_id).in_([w.id for w in alive]),
                    GenerationClaim.status == JobStatus.running,
                )
            ).all()
            if alive
            else []
        )
    by_worker: dict[str, list[dict[str, Any]]] = {}
    for claim in running:
        by_worker.setdefault(claim.worker_id, []).append(
            {"jobId": claim.job_id, "target": claim.target_key, "startedAt": iso(claim.started_at)}
        )
    return [
        {
            "id": w.id,
            "host": w.host,
            "pid": w.pid,
            "embedded": w.embedded,
            "concurrency": w.concurrency,
            "startedAt": iso(w.started_at),
            "heartbeatAt": iso(w.heartbeat_at),
            "running": by_worker.get(w.id, []),
        }
        for w in alive
    ]


# --- Queues and consumers ---------------------------------------------------------------------------------


_HOST = socket.gethostname()[:60]


@dataclass
class _Queue:
    url: str
    identity: str
    huey: Huey
    claim_task: TaskWrapper


@dataclass
class _Consumer:
    queue: _Queue
    consumer: Consumer
    worker_id: str
    embedded: bool
    stop: threading.Event = field(default_factory=threading.Event)
    heartbeat: threading.Thread | None = None


_lock = threading.RLock()
_queues: dict[str, _Queue] = {}
_consumers: dict[str, _Consumer] = {}


def _identity(url: str) -> str:
    """The queue URL without credentials (stored on WorkerProcess rows)."""
    parsed = urlparse(url)
    if parsed.password or parsed.username:
        netloc = parsed.hostname or ""
        if parsed.port:
            netloc += f":{parsed.port}"
        parsed = parsed._replace(netloc=netloc)
    return urlunparse(parsed)[:255]


def _make_queue(url: str) -> _Queue:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = Path(url.split("///", 1)[-1])
        path.parent.mkdir(parents=True, exist_ok=True)
        huey: Huey = SqliteHuey(name="reshoot", filename=str(path), results=False, timeout=30)
    elif parsed.scheme in ("redis", "rediss"):
        # `?queue=NAME` picks the Huey queue name (default "reshoot"); everything else is redis-py's.
        query = parse_qsl(parsed.query)
        name = next((v for k, v in query if k == "queue"), "reshoot")
        clean = urlunparse(parsed._replace(query=urlencode([(k, v) for k, v in query if k != "queue"])))
        huey = PriorityRedisHuey(name=name, url=clean, results=False)  # a sorted set: needs Redis 5 or newer
    else:
        raise ReshootError(
            "BAD_CONFIGURATION", 500, {"queue_url": _identity(url)}, f"Unsupported queue URL: {_identity(url)}"
        )

    @huey.task(name="reshoot_run_claim")
    def run_claim_task(claim_id: int) -> None:
        running = _consumers.get(url)
        execute_claim(claim_id, running.worker_id if running else None)

    @huey.task(name="reshoot_run_job")
    def run_job_task(job_id: str) -> None:  # messages queued before jobs had claims
        _materialize(job_id)

    return _Queue(url=url, identity=_identity(url), huey=huey, claim_task=run_claim_task)


def _queue() -> _Queue:
    url = get_settings().queue_url
    with _lock:
        if url not in _queues:
            _queues[url] = _make_queue(url)
        return _queues[url]


class _EmbeddedConsumer(Consumer):
    """Huey's consumer without its signal handlers: only the main thread may install them, and the host
    process (Streamlit, uvicorn, the CLI) owns its signals anyway."""

    def _set_signal_handlers(self) -> None:
        pass


def _consumer_options() -> dict[str, Any]:
    # Poll an idle SQLite queue at least twice a second, so a click starts work promptly.
    return {
        "workers": get_settings().generation_concurrency,
        "periodic": False,
        "initial_delay": 0.05,
        "backoff": 1.5,
        "max_delay": 0.5,
        "check_worker_health": False,
    }


def start_embedded_workers_if_enabled() -> str | None:
    """For the dashboard and the API: consumer threads in this process unless RESHOOT_EMBEDDED_WORKERS says
    dedicated workers run the jobs (by default: on with the SQLite queue, off with Redis)."""
    return start_embedded_worker() if embedded_workers_enabled() else None


def embedded_workers_enabled() -> bool:
    setting = get_settings().embedded_workers
    return setting if setting is not None else urlparse(get_settings().queue_url).scheme == "sqlite"


def start_embedded_worker() -> str:
    """Start consumer threads for the configured queue inside this process, once; returns the worker id.

    If the settings changed since (tests), the consumer of the previous queue is stopped first."""
    url = get_settings().queue_url
    with _lock:
        if url in _consumers:
            return _consumers[url].worker_id
        for other in list(_consumers):
            _stop_consumer(other)
        queue = _queue()
        consumer = _EmbeddedConsumer(queue.huey, **_consumer_options())
        running = _register(queue, consumer, embedded=True)
        consumer.start()
        return running.worker_id


def stop_embedded_worker(timeout: float = 10.0) -> None:
    """Stop this process's consumers (finishing the tasks they are running, up to `timeout` seconds)."""
    with _lock:
        for url in list(_consumers):
            _stop_consumer(url, timeout)


def run_worker() -> None:
    """`python -m services worker`: consume the configured queue in the foreground until SIGINT/SIGTERM."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    queue = _queue()
    consumer = queue.huey.create_consumer(**{**_consumer_options(), "check_worker_health": True})
    with _lock:
        running = _register(queue, consumer, embedded=False)
    log.info("Reshoot worker %s consuming %s with %d threads", running.worker_id, queue.identity, consumer.workers)
    try:
        consumer.run()
    finally:
        with _lock:
            _stop_consumer(queue.url, 0)


def _register(queue: _Queue, consumer: Consumer, *, embedded: bool) -> _Consumer:
    running = _Consumer(
        queue=queue, consumer=consumer, worker_id=f"{_HOST}:{os.getpid()}:{secrets.token_hex(3)}", embedded=embedded
    )
    with session_scope() as session:
        session.add(_worker_row(running))
    _consumers[queue.url] = running
    recover_orphaned_jobs()  # jobs left running by a dead worker, e.g. this process's previous incarnation
    requeue_lost_jobs()
    from services.sweeper import start_maintenance

    start_maintenance()  # stable copies a crash left behind, orphan files: now and periodically
    running.heartbeat = threading.Thread(target=_heartbeat_loop, args=(running,), name="reshoot-heartbeat", daemon=True)
    running.heartbeat.start()
    return running


def _worker_row(running: _Consumer) -> WorkerProcess:
    return WorkerProcess(
        id=running.worker_id,
        queue=running.queue.identity,
        host=_HOST,
        pid=os.getpid(),
        concurrency=running.consumer.workers,
        embedded=running.embedded,
    )


def _stop_consumer(url: str, timeout: float = 10.0) -> None:
    running = _consumers.pop(url, None)
    if running is None:
        return
    running.stop.set()
    running.consumer.stop_flag.set()
    deadline = time.monotonic() + timeout
    for _, thread in running.consumer.worker_threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    _mark_stopped(running.worker_id)


def _mark_stopped(worker_id: str) -> None:
    try:
        with session_scope() as session:
            session.exec(update(WorkerProcess).where(WorkerProcess.id == worker_id).values(stopped_at=utcnow()))
    except Exception:  # the database may be gone at interpreter exit; heartbeats going stale say the same
        log.debug("Could not mark worker %s stopped", worker_id, exc_info=True)


def _heartbeat_loop(running: _Consumer) -> None:
    beats = 0
    while not running.stop.wait(HEARTBEAT_SECONDS):
        if get_settings().queue_url != running.queue.url:
            return  # settings changed under a stale consumer (tests); it must not touch the new database
        try:
            now = utcnow()
            with session_scope() as session:
                if not session.exec(
                    update(WorkerProcess).where(WorkerProcess.id == running.worker_id).values(heartbeat_at=now)
                ).rowcount:
                    session.add(_worker_row(running))  # the row was lost (e.g. a restored database): alive is alive
                session.exec(
                    update(Job)
                    .where(Job.worker_id == running.worker_id, Job.status == JobStatus.running)
                    .values(heartbeat_at=now)
                )
                session.exec(
                    update(GenerationClaim)
                    .where(GenerationClaim.worker_id == running.worker_id, GenerationClaim.status == JobStatus.running)
                    .values(heartbeat_at=now)
                )
            _renew_leases(now)
            beats += 1
            if beats % 5 == 0:
                recover_orphaned_jobs()
                requeue_lost_jobs()
        except Exception:
            log.exception("Heartbeat of worker %s failed", running.worker_id)


@atexit.register
def _mark_all_stopped() -> None:
    for running in list(_consumers.values()):
        _mark_stopped(running.worker_id)


# --- Backend concurrency -------------------------------------------------------------------------------

_slots: tuple[int, threading.BoundedSemaphore] | None = None
_slots_lock = threading.Lock()
_leases: dict[int, str] = {}  # slot -> holder, of the leases this process holds (renewed by its heartbeats)
_lease_rows: dict[str, int] = {}  # database URL -> slot rows known to exist there


@contextmanager
def backend_slot() -> Iterator[None]:
    """Hold a backend call slot: one of this process's RESHOOT_GENERATION_CONCURRENCY and, when
    RESHOOT_BACKEND_CONCURRENCY is set, one of that many leases shared by every process on every machine."""
    global _slots
    settings = get_settings()
    with _slots_lock:
        if _slots is None or _slots[0] != settings.generation_concurrency:
            _slots = (settings.generation_concurrency, threading.BoundedSemaphore(settings.generation_concurrency))
        semaphore = _slots[1]
    with semaphore:
        if not settings.backend_concurrency:
            yield
            return
        slot, holder = _acquire_lease(settings.backend_concurrency)
        try:
            yield
        finally:
            _release_lease(slot, holder)


def _lease_holder() -> str:
    """`<worker id>/<token>`: reaping a dead worker frees its leases by that prefix."""
    running = _consumers.get(get_settings().queue_url)
    owner = running.worker_id if running else f"{_HOST}:{os.getpid()}:-"
    return f"{owner}/{secrets.token_hex(4)}"


def _ensure_lease_rows(limit: int) -> None:
    url = get_settings().database_url
    if _lease_rows.get(url, 0) >= limit:
        return
    with session_scope() as session:
        existing = set(session.exec(select(BackendLease.slot).where(BackendLease.slot < limit)))
    for slot in range(limit):
        if slot not in existing:
            try:
                with session_scope() as session:
                    session.add(BackendLease(slot=slot))
            except IntegrityError:
                pass  # another process made it
    _lease_rows[url] = limit


def _acquire_lease(limit: int) -> tuple[int, str]:
    _ensure_lease_rows(limit)
    holder, delay = _lease_holder(), 0.02
    while True:
        now = utcnow()
        free = or_(col(BackendLease.holder).is_(None), col(BackendLease.expires_at) < now)
        with session_scope() as session:
            candidates = list(session.exec(select(BackendLease.slot).where(BackendLease.slot < limit, free)))
        random.shuffle(candidates)
        for slot in candidates:
            with session_scope() as session:  # only one of several racing updates still finds the slot free
                taken = session.exec(
                    update(BackendLease)
                    .where(BackendLease.slot == slot, free)
                    .values(holder=holder, expires_at=now + timedelta(seconds=LEASE_SECONDS))
                ).rowcount
            if taken == 1:
                _leases[slot] = holder
                return slot, holder
        time.sleep(delay * random.uniform(0.5, 1.5))
        delay = min(delay * 1.5, 0.2)


def _release_lease(slot: int, holder: str) -> None:
    _leases.pop(slot, None)
    try:
        with session_scope() as session:
            session.exec(
                update(BackendLease)
                .where(BackendLease.slot == slot, BackendLease.holder == holder)
                .values(holder=None, expires_at=None)
            )
    except Exception:  # it expires by itself
        log.warning("Could not release backend lease %s", slot, exc_info=True)


def _renew_leases(now: datetime) -> None:
    holders = list(_leases.values())
    if holders:
        with session_scope() as session:
            session.exec(
                update(BackendLease)
                .where(col(BackendLease.holder).in_(holders))
                .values(expires_at=now + timedelta(seconds=LEASE_SECONDS))
            )
