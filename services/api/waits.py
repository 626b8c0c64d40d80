"""Waiting for jobs inside the API without holding a server thread.

Every request that waits on a job awaits a future; one polling task per app reads all waited jobs in one query
per tick (on a worker thread only for that query) and resolves the futures of the jobs that ended. So 50 waiting
requests cost one short query every tick, and the thread pool stays free for unrelated requests.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.concurrency import run_in_threadpool

from services import jobs
from services.backends import BackendError
from services.enums import JobStatus
from services.errors import ReshootError
from services.read_models.jobs import JobPublic

POLL_SECONDS = 0.1
RECOVERY_SECONDS = 1.0  # how often dead workers are looked for and a consumer is started if none is alive


class JobWaiter:
    """Futures of waiting requests by job id, resolved by one shared polling loop."""

    def __init__(self, poll_seconds: float = POLL_SECONDS) -> None:
        self.poll_seconds = poll_seconds
        self._waiting: dict[str, list[asyncio.Future[JobPublic]]] = {}
        self._task: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        """How many requests are waiting now."""
        return sum(len(futures) for futures in self._waiting.values())

    async def wait(self, job_id: str, timeout: float | None) -> JobPublic:
        """The job once it ended, or as it is when `timeout` seconds passed (None: no limit)."""
        future: asyncio.Future[JobPublic] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(job_id, []).append(future)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll(), name="reshoot-job-waiter")
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            return await run_in_threadpool(jobs.get_job, job_id)
        finally:
            futures = self._waiting.get(job_id, [])
            if future in futures:
                futures.remove(future)
            if not futures:
                self._waiting.pop(job_id, None)

    async def _poll(self) -> None:
        next_recovery = 0.0
        while self._waiting:
            ids = list(self._waiting)
            found = await run_in_threadpool(jobs.get_jobs, ids)
            for job_id in ids:
                job = found.get(job_id)
                for future in self._waiting.get(job_id, []):
                    if future.done():
                        continue
                    if job is None:  # deleted while waited on
                        future.set_exception(ReshootError("JOB_NOT_FOUND", 404, {"jobId": job_id}, "Job not found"))
                    elif job.finished:
                        future.set_result(job)
            if time.monotonic() >= next_recovery:
                next_recovery = time.monotonic() + RECOVERY_SECONDS
                running = [i for i, job in found.items() if job.status == JobStatus.running]
                await run_in_threadpool(_keep_jobs_moving, running)
            await asyncio.sleep(self.poll_seconds)


def _keep_jobs_moving(running: list[str]) -> None:
    """What `jobs.wait_for_job` does each second: fail jobs of dead workers, and run a consumer if none is alive."""
    if running:
        jobs.recover_orphaned_jobs(job_ids=running)
    if not jobs.consumer_alive():
        jobs.start_embedded_worker()


def _backend_statuses() -> dict[str, int]:
    """HTTP status of every backend error code, read from the BackendError classes (so new kinds map themselves)."""
    statuses: dict[str, int] = {}
    pending: list[type[BackendError]] = [BackendError]
    while pending:
        cls = pending.pop()
        statuses.setdefault(cls.code, cls.status)
        pending.extend(cls.__subclasses__())
    return statuses


# Job error codes that are no backend class's own: what they mean to a client that asked for the job.
JOB_ERROR_STATUSES = {
    "BACKEND_TIMEOUT": 504,
    "WORKER_DIED": 503,
    "BACKEND_MISCONFIGURED": 503,
}


def failed_job_error(job: JobPublic) -> ReshootError:
    """The error a failed job answers: its own code with a status that says what happened (429 rate limited,
    503 unavailable, 504 timed out, 422 content rejected, 502 a bad backend answer); 500 INTERNAL_ERROR otherwise."""
    code = job.error_code or ""
    status = {**_backend_statuses(), **JOB_ERROR_STATUSES}.get(code)
    details: dict[str, Any] = {"jobId": job.id, "errorCode": code or None, "message": job.message}
    result = job.heroes_result()
    if result and result.failed:
        details["failed"] = [shot.model_dump(mode="json") for shot in result.failed]
    if status is None or status == 500:
        return ReshootError("INTERNAL_ERROR", 500, details)
    return ReshootError(code, status, details, job.message)
