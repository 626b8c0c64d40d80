"""Dead workers: a running claim whose worker stopped, died (pid gone on this host) or went silent is failed
(`WORKER_DIED`) and its worker marked stopped; queued claims whose queue message was lost are queued again."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import BindParameter, bindparam, update
from sqlmodel import col, select

from services.db import session_scope
from services.enums import ACTIVE_STATUSES, JobStatus
from services.jobs import runner, workers
from services.models import BackendLease, GenerationClaim, Job, JobClaim, WorkerProcess, utcnow

log = logging.getLogger("reshoot.jobs")

JOB_STALE_SECONDS = 30.0  # a running job or claim without a heartbeat this long is presumed orphaned


LOST_AFTER_SECONDS = 30.0  # a queued claim this old whose message is not on the queue gets its message again


WORKER_DIED_MESSAGE = "The worker running this job stopped before it finished. Retry to generate what is missing."


WORKER_DIED_UNIT_MESSAGE = "The worker generating this stopped before it finished"


# The reads a job's readers make about once a second (`rows.get_job` of a running job), built once: building them
# cost more than running them.
_JOB_IDS: BindParameter[list[str]] = bindparam("job_ids", expanding=True)
_RUNNING_CLAIMS = select(GenerationClaim).where(GenerationClaim.status == JobStatus.running)
_RUNNING_CLAIMS_OF = _RUNNING_CLAIMS.where(
    col(GenerationClaim.id).in_(select(JobClaim.claim_id).where(col(JobClaim.job_id).in_(_JOB_IDS)))
)
_RUNNING_JOBS = select(Job).where(Job.status == JobStatus.running)
_RUNNING_JOBS_OF = _RUNNING_JOBS.where(col(Job.id).in_(_JOB_IDS))
_WITH_CLAIMS = (
    select(JobClaim.job_id).where(col(JobClaim.job_id).in_(bindparam("running_ids", expanding=True))).distinct()
)


def recover_orphaned_jobs(job_ids: list[str] | None = None) -> list[str]:
    """Fail running claims (and claim-less running jobs) whose worker is gone (WORKER_DIED), mark such workers
    stopped, and finish the jobs that now wait for nothing; returns the ids of the jobs that ended."""
    now = utcnow()
    params = {"job_ids": job_ids}
    with session_scope() as session:
        claims = session.exec(_RUNNING_CLAIMS if job_ids is None else _RUNNING_CLAIMS_OF, params=params).all()
        running_jobs = session.exec(_RUNNING_JOBS if job_ids is None else _RUNNING_JOBS_OF, params=params).all()
        with_claims = (
            set(session.exec(_WITH_CLAIMS, params={"running_ids": [j.id for j in running_jobs]}))
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


def _reap(claims: Sequence[GenerationClaim], claimless_jobs: Sequence[Job], now: datetime) -> list[str]:
    worker_ids = {c.worker_id for c in claims if c.worker_id} | {j.worker_id for j in claimless_jobs if j.worker_id}
    if not worker_ids and not claims and not claimless_jobs:
        return []
    with session_scope() as session:
        known = (
            {w.id: w for w in session.exec(select(WorkerProcess).where(col(WorkerProcess.id).in_(worker_ids)))}
            if worker_ids
            else {}
        )
    ours = {c.worker_id for c in workers._consumers.values()}
    dead_workers = {wid for wid in worker_ids if wid not in ours and _worker_dead(known.get(wid), now)}
    _mark_dead(dead_workers & set(known), now)

    reaped_claims = []
    for claim in claims:
        if claim.worker_id in ours:
            continue  # a live consumer of this process runs it (even if its row was lost, e.g. a restored database)
        if claim.worker_id in dead_workers or _silent(claim.heartbeat_at or claim.started_at, now):
            with session_scope() as session:
                failed = session.exec(
                    update(GenerationClaim)
                    .where(
                        col(GenerationClaim.id) == claim.id,
                        col(GenerationClaim.status) == JobStatus.running,
                        col(GenerationClaim.worker_id) == claim.worker_id,
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
        ended += [job_id for job_id in job_ids if runner._finalize(job_id)]
    for job in claimless_jobs:
        if job.worker_id in ours:
            continue
        if job.worker_id in dead_workers or _silent(job.heartbeat_at or job.started_at, now):
            detail = f"worker {job.worker_id} stopped or stopped answering"
            if runner._finish(
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


_SETTLED = (
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
_SETTLED_ANY = _SETTLED.limit(500)
_SETTLED_OF = _SETTLED.where(col(Job.id).in_(_JOB_IDS)).limit(500)


def _finish_settled(job_ids: list[str] | None) -> list[str]:
    """Active jobs whose claims all ended (e.g. a worker died between ending a claim and ending its job)."""
    with session_scope() as session:
        query = _SETTLED_ANY if job_ids is None else _SETTLED_OF
        settled = list(session.exec(query, params={"job_ids": job_ids}))
    return [job_id for job_id in settled if runner._finalize(job_id)]


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
        runner._materialize(job_id)
    if not queued:
        return list(claimless)
    queue = workers._queue()
    # Huey: `pending()` reads every message on the queue and deserialises it into a Task whose `args` are the
    # task's arguments (our claim id); it walks the whole queue, which is why this runs every few heartbeats only.
    pending = {task.args[0] for task in queue.huey.pending() if task.args}
    lost = [claim_id for claim_id in queued if claim_id not in pending]
    for claim_id in lost:
        log.warning("Claim %s was queued without a queue message; enqueuing it again", claim_id)
        queue.claim_task(claim_id)
    return list(claimless) + [str(c) for c in lost]


def _worker_dead(worker: WorkerProcess | None, now: datetime) -> bool:
    if worker is None or worker.stopped_at is not None:
        return True
    if worker.heartbeat_at < now - timedelta(seconds=workers.WORKER_STALE_SECONDS):
        return True
    if worker.host == workers._HOST:
        if worker.pid == os.getpid():
            return worker.id not in {
                c.worker_id for c in workers._consumers.values()
            }  # an earlier consumer of this process
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
