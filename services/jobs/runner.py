"""Recording a job and running it: `enqueue` records the Job row and one claim per unit and puts the new claims on
the queue; a consumer's `execute_claim` claims one, runs the kind's `run_claim` and records the outcome; when the
last claim a job waits for ends, the kind's `summarize` turns the outcomes into the job's result (`_finalize`)."""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BindParameter, String, bindparam, case, cast, func, insert, update
from sqlalchemy import select as sql_select  # more columns than sqlmodel's typed select() takes
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from services.audit import AuditAction, Target, record
from services.auth import require
from services.config import get_settings
from services.db import execute, get_row, session_scope
from services.enums import ACTIVE_STATUSES, FINISHED_STATUSES, AuditTargetKind, JobKind, JobStatus
from services.errors import ReshootError
from services.identity import Role, acting_as, current_actor
from services.jobs import recovery, registration, rows, workers
from services.models import Event, GenerationClaim, Job, JobClaim, stored_id, utcnow
from services.read_models import ReadModel
from services.read_models.jobs import JobPublic

log = logging.getLogger("reshoot.jobs")

SMALL_JOB = 4  # a job of at most this many new units (a regenerated shot, a sentence) goes ahead of bigger ones


SMALL_JOB_PRIORITY = 10


def enqueue(
    kind: JobKind,
    target_key: str,
    params: ReadModel,
    *,
    units: list[registration.Unit],
    plan: dict[str, Any] | None = None,
    work_item_id: str | None = None,
    sentence_id: str | None = None,
    project_id: str | None = None,
    shot_id: str | None = None,
    action: AuditAction,
) -> tuple[JobPublic, bool]:
    """Record a queued job (requested by the current actor, with its audit row `action`, whose target names the
    work item, sentence, project or single shot given) with its units and queue the units nobody works on yet;
    (job, True), or (the active job, False) if an identical request is queued or running. A job with nothing to do
    ends at once."""
    request = params.model_dump(mode="json")  # the kind's request, as the job row and its audit row keep it
    subject_key = registration.handlers(kind).subject_key  # an unknown kind fails here, before anything is recorded
    recovery._reap_targets(target_key, [u.target_key for u in units])
    for _ in range(5):
        try:
            with session_scope() as session:
                job = Job(
                    kind=kind,
                    target_key=target_key,
                    params=request,
                    plan=plan,
                    work_item_id=work_item_id,
                    sentence_id=sentence_id,
                    project_id=project_id,
                    requested_by=current_actor().email,
                    message="Queued",
                )
                session.add(job)
                session.flush()  # an identical active request fails here, before any claim
                new_claims = _link_units(session, job, units, subject_key)
                target = _job_target(job, shot_id=shot_id)
                record(session, action=action, target=target, after={"jobId": job.id, **request})
            break
        except IntegrityError:
            active = rows.active_job_for(target_key)  # the one queued/running job for this target
            if active is not None:
                return active, False
    else:
        raise ReshootError("INTERNAL_ERROR", 500, {"targetKey": target_key}, "Could not record the job")
    _send(job.id, new_claims)
    if not units:
        _finalize(job.id)
    return rows.get_job(job.id), True


def _link_units(session: Session, job: Job, units: list[registration.Unit], subject_key: str) -> list[int]:
    """Claim each unit for `job`, or join the claim already queued/running for it (listed in `job.joined` as
    {subject_key: subject, "jobId": that job}); returns the new claims' ids. Units go in target order, so two
    requests never wait on each other's claims in opposite orders."""
    ordered = sorted(enumerate(units), key=lambda pair: pair[1].target_key)
    claims = _claim_units(session, job, [unit for _, unit in ordered])
    new_claims, joined, links, total = [], [], [], 0
    for (position, unit), (claim_id, claim_job_id, weight, is_new) in zip(ordered, claims, strict=True):
        links.append({"job_id": job.id, "claim_id": claim_id, "joined": not is_new, "position": position})
        total += weight
        if is_new:
            new_claims.append(claim_id)
        else:
            joined.append((position, {subject_key: unit.subject, "jobId": claim_job_id}))
    if links:
        execute(session, _INSERT_LINKS, links)
    job.joined = [entry for _, entry in sorted(joined, key=lambda pair: pair[0])]
    job.progress_total = total
    session.add(job)
    return new_claims


_ACTIVE_CLAIMS = sql_select(
    col(GenerationClaim.target_key), col(GenerationClaim.id), col(GenerationClaim.job_id), col(GenerationClaim.weight)
).where(
    col(GenerationClaim.target_key).in_(bindparam("target_keys", expanding=True)),
    col(GenerationClaim.status).in_(ACTIVE_STATUSES),
)
_INSERT_CLAIMS = insert(GenerationClaim).returning(col(GenerationClaim.id), sort_by_parameter_order=True)
_INSERT_LINKS = insert(JobClaim)


def _claim_units(session: Session, job: Job, units: list[registration.Unit]) -> list[tuple[int, str, int, bool]]:
    """(claim id, its job, its weight, new?) for each unit: the units nobody works on claimed in one INSERT, the
    others joined, after one read of the active claims. If a concurrent request claims one of them meanwhile (the
    INSERT fails on the one active claim a target may have), unit by unit as `_claim_unit`."""
    if not units:
        return []
    try:
        with session.begin_nested():
            found = execute(session, _ACTIVE_CLAIMS, {"target_keys": [u.target_key for u in units]})
            active = {key: (claim_id, job_id, weight, False) for key, claim_id, job_id, weight in found}
            new = [unit for unit in units if unit.target_key not in active]
            if new:
                template = GenerationClaim(
                    job_id=job.id, kind=job.kind, target_key="", subject="", work_item_id=job.work_item_id
                ).model_dump(exclude={"id"})
                rows = [{**template, "target_key": u.target_key, "subject": u.subject, "weight": u.weight} for u in new]
                ids = execute(session, _INSERT_CLAIMS, rows).scalars().all()
                for unit, claim_id in zip(new, ids, strict=True):
                    active[unit.target_key] = (claim_id, job.id, unit.weight, True)
        return [active[unit.target_key] for unit in units]
    except IntegrityError:
        claimed = [_claim_unit(session, job, unit) for unit in units]
        return [(stored_id(claim), claim.job_id, claim.weight, is_new) for claim, is_new in claimed]


def _claim_unit(session: Session, job: Job, unit: registration.Unit) -> tuple[GenerationClaim, bool]:
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
    queue = workers._queue()
    # A click on one shot must not wait behind the hundreds of shots of a generate-all queued before it.
    priority = SMALL_JOB_PRIORITY if len(claim_ids) <= SMALL_JOB else 0
    try:
        for claim_id in claim_ids:
            queue.claim_task(claim_id, priority=priority)
    except Exception as e:
        with session_scope() as session:
            session.exec(
                update(GenerationClaim)
                .where(col(GenerationClaim.id).in_(claim_ids), col(GenerationClaim.status) == JobStatus.queued)
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


def _job_target(job: Job, *, shot_id: str | None = None) -> Target:
    return Target(
        AuditTargetKind.job,
        job.id,
        work_item_id=job.work_item_id,
        shot_id=shot_id,
        sentence_id=job.sentence_id,
        project_id=job.project_id,
    )


def retry_job(job_id: str) -> JobPublic:
    """Run a finished job again (a lifestyle job: only its failed shots, if some succeeded); returns the new job.
    A reviewer may retry their own jobs; anyone's needs admin."""
    actor = require(Role.reviewer)
    job = rows.get_job(job_id)
    if job.requested_by != actor.email:
        require(Role.admin)
    if job.active:
        return job
    new_job_id = registration.handlers(job.kind).retry(job).job_id
    with session_scope() as session:  # the new job's own row (its use case's action) is written with it
        record(
            session,
            action=AuditAction.retry_job,
            # The new job's own row names its single shot, if it has one; this row names where the job belongs.
            target=_job_target(get_row(session, Job, new_job_id)),
            before={"jobId": job_id, "status": str(job.status)},
            after={"jobId": new_job_id},
        )
    return rows.get_job(new_job_id)


# Jobs finished by this process (its embedded consumers) wake waiters at once; `_ended_count` tells a waiter
# whether one ended between its read of the row and its wait.
_job_ended = threading.Condition()


_ended_count = 0


OTHER_PROCESS_CHECK_SECONDS = 0.25  # how often a waiter re-reads the row for jobs other processes run


def wait_until_finished(job_id: str, timeout: float) -> JobPublic:
    """The job once it has finished, or as it is after `timeout` seconds. Costs almost nothing while waiting: a
    job this process runs wakes the waiter when it ends; one run elsewhere (a worker) is re-read every
    OTHER_PROCESS_CHECK_SECONDS. Starts no consumer (see `wait_for_job`)."""
    deadline = time.monotonic() + timeout
    while True:
        seen = _ended_count
        job = rows.get_job(job_id)
        left = deadline - time.monotonic()
        if job.finished or left <= 0:
            return job
        _wait_for_an_end(seen, min(left, OTHER_PROCESS_CHECK_SECONDS))


def _wait_for_an_end(seen: int, seconds: float) -> None:
    """Wait up to `seconds` for a job of this process to end, unless one ended since `_ended_count` was `seen`."""
    with _job_ended:
        if _ended_count == seen:
            _job_ended.wait(max(0.0, seconds))


def _announce_job_ended() -> None:
    global _ended_count
    with _job_ended:
        _ended_count += 1
        _job_ended.notify_all()


def wait_for_job(job_id: str, timeout: float | None = None) -> JobPublic:
    """Wait until the job is finished (or `timeout` seconds passed; then the job as it is now): woken when this
    process finishes it, re-read every OTHER_PROCESS_CHECK_SECONDS at most in case another process does.

    With no live consumer for this queue anywhere (a fresh machine, the CLI with --wait), an embedded consumer
    is started in this process so the job runs, unless RESHOOT_EMBEDDED_WORKERS=0 says workers run elsewhere."""
    deadline = None if timeout is None else time.monotonic() + timeout
    next_check = 0.0
    while True:
        seen = _ended_count
        job = rows.get_job(job_id)
        if job.finished:
            return job
        now = time.monotonic()
        if now >= next_check:
            next_check = now + 1.0
            if get_settings().embedded_workers is not False and not workers.consumer_alive():
                workers.start_embedded_worker()
        if deadline is not None and now >= deadline:
            return job
        # A job this process finishes wakes the waiter at once; one run elsewhere is re-read as in wait_until_finished.
        left = OTHER_PROCESS_CHECK_SECONDS if deadline is None else deadline - now
        _wait_for_an_end(seen, min(left, OTHER_PROCESS_CHECK_SECONDS))


def execute_claim(claim_id: int, worker_id: str | None) -> None:
    """Claim a queued unit and run its handler; every outcome ends up on the claim and its jobs."""
    ctx = _start_claim(claim_id, worker_id)
    if ctx is None:
        return  # already claimed, finished or reaped (e.g. a duplicate queue message)
    try:
        if ctx.prepare_error is not None:
            raise ctx.prepare_error
        with acting_as(rows.requester(ctx.requested_by)):  # its new versions are recorded for the requester
            outcome = registration.handlers(ctx.kind).run_claim(ctx)
    except registration.JobFailed as e:
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


# The statements of every claim's start and end, built once (building one cost more than running it); run by
# `db.execute`, without the ORM's work per statement.
_CLAIM_ID: BindParameter[int] = bindparam("claim_id")
_NOW: BindParameter[datetime] = bindparam("now")
_STARTED = {"status": JobStatus.running, "worker_id": bindparam("worker"), "started_at": _NOW, "heartbeat_at": _NOW}
_CLAIM_START = (
    update(GenerationClaim)
    .where(col(GenerationClaim.id) == _CLAIM_ID, col(GenerationClaim.status) == JobStatus.queued)
    .values(**_STARTED, attempts=GenerationClaim.attempts + 1)
    .returning(
        col(GenerationClaim.job_id),
        col(GenerationClaim.kind),
        col(GenerationClaim.subject),
        col(GenerationClaim.attempts),
    )
)
_JOBS_START = (
    update(Job)
    .where(
        col(Job.id).in_(select(JobClaim.job_id).where(JobClaim.claim_id == _CLAIM_ID)),
        col(Job.status) == JobStatus.queued,
    )
    .values(**_STARTED, attempts=Job.attempts + 1, message="Starting")
)
_CLAIM_JOB = sql_select(
    col(Job.id),
    col(Job.params),
    col(Job.work_item_id),
    col(Job.sentence_id),
    col(Job.project_id),
    col(Job.requested_by),
).where(col(Job.id) == bindparam("job_id"))


def _start_claim(claim_id: int, worker_id: str | None) -> registration.ClaimContext | None:
    params = {"claim_id": claim_id, "worker": worker_id, "now": utcnow()}
    with session_scope() as session:
        claimed = execute(session, _CLAIM_START, params).first()
        if claimed is None:
            return None
        job_id, kind, subject, attempts = claimed
        execute(session, _JOBS_START, params)
        job = execute(session, _CLAIM_JOB, {"job_id": job_id}).first()
        if job is None:
            raise LookupError(f"no Job {job_id!r}")
        ctx = registration.ClaimContext(
            claim_id=claim_id,
            id=job.id,
            kind=kind,
            subject=subject,
            params=dict(job.params or {}),
            worker_id=worker_id,
            work_item_id=job.work_item_id,
            sentence_id=job.sentence_id,
            project_id=job.project_id,
            attempts=attempts,
            requested_by=job.requested_by,
        )
        prepare = registration.handlers(kind).prepare
        if prepare is not None:  # the handler's reads in this transaction: one commit fewer a unit
            try:
                ctx.prepared = prepare(session, ctx)
            except (ReshootError, registration.JobFailed, LookupError, ValueError) as e:  # not the database's own
                ctx.prepare_error = e
        return ctx


_CLAIM_END = (
    update(GenerationClaim)
    .where(col(GenerationClaim.id) == _CLAIM_ID, col(GenerationClaim.status) == JobStatus.running)
    .values(
        status=bindparam("new_status"),
        outcome=bindparam("new_outcome", type_=JSON()),
        error_code=bindparam("code"),
        message=bindparam("text"),
        error_detail=bindparam("detail"),
        finished_at=_NOW,
    )
)
_CLAIM_END_OF_WORKER = _CLAIM_END.where(col(GenerationClaim.worker_id) == bindparam("worker"))


def _end_claim(
    ctx: registration.ClaimContext,
    *,
    status: JobStatus,
    outcome: dict | None = None,
    code: str | None = None,
    message: str = "",
    detail: str | None = None,
) -> None:
    values = {
        "claim_id": ctx.claim_id,
        "worker": ctx.worker_id,
        "new_status": status,
        "new_outcome": outcome,
        "code": code,
        "text": message,
        "detail": detail,
        "now": utcnow(),
    }
    with session_scope() as session:
        query = _CLAIM_END if ctx.worker_id is None else _CLAIM_END_OF_WORKER
        if execute(session, query, values).rowcount != 1:
            return  # reaped meanwhile (its worker was presumed dead): the reaper has finished its jobs
    _finalize_linked([ctx.claim_id])


_CLAIM_IDS: BindParameter[list[int]] = bindparam("claim_ids", expanding=True)
_LINKED_JOBS = select(JobClaim.job_id).where(col(JobClaim.claim_id).in_(_CLAIM_IDS))
_DONE = (
    select(func.coalesce(func.sum(GenerationClaim.weight), 0))
    .join(JobClaim, col(JobClaim.claim_id) == GenerationClaim.id)
    .where(col(JobClaim.job_id) == Job.id, col(GenerationClaim.status).in_(FINISHED_STATUSES))
    .scalar_subquery()
)
_LINKED_PROGRESS = (
    update(Job)
    .where(col(Job.id).in_(_LINKED_JOBS), col(Job.status) == JobStatus.running, col(Job.progress_done) < _DONE)
    .values(
        progress_done=_DONE,
        heartbeat_at=_NOW,
        message=cast(_DONE, String) + " of " + cast(Job.progress_total, String) + " done",
    )
)
_LINKED_SETTLED = (
    select(JobClaim.job_id)
    .join(GenerationClaim, col(GenerationClaim.id) == JobClaim.claim_id)
    .where(col(JobClaim.job_id).in_(_LINKED_JOBS))
    .group_by(col(JobClaim.job_id))
    .having(func.count(case((col(GenerationClaim.status).in_(ACTIVE_STATUSES), 1))) == 0)
)


def _finalize_linked(claim_ids: list[int]) -> None:
    """Update the progress of every job waiting for these claims and finish those with nothing left to wait for.

    Runs after the claims' own ends committed, so whichever claim of a job ends last sees none pending. One
    transaction, write first (SQLite then holds its write lock for the read that follows, see `_finalize`): one
    UPDATE sets every running linked job's progress from its finished claims, one read finds the jobs with no
    claim left queued or running; only those take `_finalize`'s longer path."""
    with session_scope() as session:
        execute(session, _LINKED_PROGRESS, {"claim_ids": list(claim_ids), "now": utcnow()})
        settled = execute(session, _LINKED_SETTLED, {"claim_ids": list(claim_ids)}).scalars().all()
    for job_id in settled:
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
            linked_claims = session.exec(
                select(GenerationClaim, JobClaim)
                .join(JobClaim, col(JobClaim.claim_id) == GenerationClaim.id)
                .where(JobClaim.job_id == job_id)
                .order_by(col(JobClaim.position))
            ).all()
    if pending:
        with session_scope() as session:
            session.exec(
                update(Job)
                .where(col(Job.id) == job_id, col(Job.status) == JobStatus.running, col(Job.progress_done) < done)
                .values(progress_done=done, heartbeat_at=utcnow(), message=f"{done} of {job.progress_total} done")
            )
        return False
    outcomes = [
        registration.ClaimOutcome(
            subject=c.subject,
            status=c.status,
            outcome=c.outcome,
            error_code=c.error_code,
            message=c.message,
            detail=c.error_detail,
            joined=link.joined,
            job_id=c.job_id,
        )
        for c, link in linked_claims
    ]
    snapshot = rows.job_public(job)
    try:
        result, message = registration.handlers(snapshot.kind).summarize(snapshot, outcomes)
    except registration.JobFailed as e:
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
    result: dict[str, Any] | None = None,
    from_status: tuple[JobStatus, ...] = (JobStatus.running,),
) -> bool:
    """Move a job to succeeded/failed (only from `from_status`, only if this worker still owns it) plus its event."""
    with session_scope() as session:
        query = (
            update(Job)
            .where(col(Job.id) == job_id, col(Job.status).in_(from_status))
            .values(status=status, message=message, finished_at=utcnow(), error_code=code, error_detail=detail)
        )
        if result is not None:
            query = query.values(result=result)
        if worker_id is not None:
            query = query.where(col(Job.worker_id) == worker_id)
        if session.exec(query).rowcount != 1:
            return False
        job = get_row(session, Job, job_id)
        if status == JobStatus.succeeded and job.progress_total:
            job.progress_done = job.progress_total
        session.add(_event_for(job))
    _announce_job_ended()  # after the commit: a woken waiter reads the finished row
    return True


def _event_for(job: Job) -> Event:
    payload: dict[str, Any] = {
        "type": "job_complete" if job.status == JobStatus.succeeded else "job_failed",
        "jobType": registration.event_job_type(job.kind),
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
        snapshot = rows.job_public(job)
    handlers = registration.handlers(snapshot.kind)
    try:
        units, plan = handlers.units_for(snapshot)
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
            update(Job).where(col(Job.id) == job_id, col(Job.status) == JobStatus.queued).values(message="Queued")
        ).rowcount:
            return
        job = get_row(session, Job, job_id)
        if session.exec(select(JobClaim).where(JobClaim.job_id == job_id)).first():
            return
        job.plan = plan
        new_claims = _link_units(session, job, units, handlers.subject_key)
    _send(job_id, new_claims)
    if not units:
        _finalize(job_id)
