"""Generation jobs: the Job row is the truth the UI reads; Huey (SQLite by default, Redis at scale) carries the work.

Life of a job: a use case validates and calls `enqueue()` with the job's units (a shot's heroes, a sentence's
image). In one transaction it inserts a `queued` Job row (the partial unique index `uq_job_active_target` allows
one queued/running job per request target, so an identical request gets the first job back) and one
GenerationClaim per unit. A claim's partial unique index `uq_claim_active_target` allows one queued/running claim
per unit target: a unit another job already queued or runs is *joined* (linked to this job through JobClaim,
listed in `Job.joined`) instead of generated twice. Every new claim is its own Huey task, so the shots of one job
spread over every consumer thread of every worker process on every machine.

A consumer claims a claim (`running`, worker id, heartbeat), calls its kind's `run_claim(ctx)` (registered by the
kind's use-case module, see registration.py) and records the claim's outcome; the job's progress is the weight of
its finished claims. When the last claim a job waits for ends, the kind's `summarize(job, claims)` turns the
outcomes into the job's result JSON (`succeeded`) or raises JobFailed (`failed`), and a job_complete / job_failed
event is written.

Every consumer has a WorkerProcess row with a heartbeat; a running claim whose worker stopped, died (pid gone on
this host) or went silent is failed (`WORKER_DIED`), and its worker marked stopped, by the next request for its
target, by reading the job, by any consumer that starts and by any live consumer's heartbeat, so a dead job ends
even when no worker is left. Its job then fails or lists the shot under `failed`; a retry generates only those.

Backend calls are bounded per process (RESHOOT_GENERATION_CONCURRENCY) and, with RESHOOT_BACKEND_CONCURRENCY, across
every process by leases on BackendLease rows.

The package: registration.py (what a kind plugs in), rows.py (reading jobs), runner.py (recording and running
them), recovery.py (dead workers, lost messages), workers.py (queue, consumers, heartbeats), leases.py (backend
slots). This module re-exports the public API: `from services import jobs; jobs.get_job(...)`.
"""

from services.jobs.leases import backend_slot
from services.jobs.recovery import (
    WORKER_DIED_MESSAGE,
    WORKER_DIED_UNIT_MESSAGE,
    recover_orphaned_jobs,
    requeue_lost_jobs,
)
from services.jobs.registration import ClaimContext, ClaimOutcome, JobFailed, JobType, Unit, register
from services.jobs.rows import (
    active_job_for,
    active_jobs_for,
    events_since,
    get_job,
    get_jobs,
    job_public,
    latest_event_id,
    list_jobs,
    requester,
)
from services.jobs.runner import enqueue, execute_claim, retry_job, wait_for_job, wait_until_finished
from services.jobs.workers import (
    consumer_alive,
    embedded_workers_enabled,
    list_workers,
    run_worker,
    start_embedded_worker,
    start_embedded_workers_if_enabled,
    stop_embedded_worker,
)

__all__ = [
    "WORKER_DIED_MESSAGE",
    "WORKER_DIED_UNIT_MESSAGE",
    "ClaimContext",
    "ClaimOutcome",
    "JobFailed",
    "JobType",
    "Unit",
    "active_job_for",
    "active_jobs_for",
    "backend_slot",
    "consumer_alive",
    "embedded_workers_enabled",
    "enqueue",
    "events_since",
    "execute_claim",
    "get_job",
    "get_jobs",
    "job_public",
    "latest_event_id",
    "list_jobs",
    "list_workers",
    "recover_orphaned_jobs",
    "register",
    "requester",
    "requeue_lost_jobs",
    "retry_job",
    "run_worker",
    "start_embedded_worker",
    "start_embedded_workers_if_enabled",
    "stop_embedded_worker",
    "wait_for_job",
    "wait_until_finished",
]
