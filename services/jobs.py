"""Generation jobs: the Job row is the truth the UI reads; Huey (SQLite by default, Redis at scale) carries the work.

Life of a job: a use case validates, `enqueue()` inserts a `queued` Job row (the partial unique index
`uq_job_active_target` allows one queued/running job per target, so a second request gets the first job back)
and puts its id on the Huey queue. A consumer thread claims it (`running`, worker id, heartbeat), calls the
kind's handler (`run_job(ctx)` in the module named in HANDLERS), and finishes it as `succeeded` with the result
JSON or `failed` with an error code, a human message and a detail. Every consumer has a WorkerProcess row with a
heartbeat; a running job whose worker stopped, died (pid gone on this host) or went silent is marked failed
(`WORKER_DIED`) by the next consumer that starts, by any live consumer's heartbeat, and by `wait_for_job`.
"""

from __future__ import annotations

import atexit
import importlib
import json
import logging
import os
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

from huey import RedisHuey, SqliteHuey
from huey.api import Huey, TaskWrapper
from huey.consumer import Consumer
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from services.audit import AuditAction, Target, record
from services.config import get_settings
from services.db import session_scope
from services.errors import ReshootError
from services.identity import Actor, Role, acting_as, current_actor
from services.models import Event, Job, WorkerProcess, iso, utcnow

log = logging.getLogger("reshoot.jobs")

HEARTBEAT_SECONDS = 2.0
WORKER_STALE_SECONDS = 15.0  # a consumer silent this long is presumed dead
JOB_STALE_SECONDS = 30.0  # a running job without a heartbeat this long is presumed orphaned
LOST_AFTER_SECONDS = 30.0  # a queued job this old whose message is not on the queue gets its message again
TERMINAL = ("succeeded", "failed")
ACTIVE = ("queued", "running")

# kind -> module with `run_job(ctx) -> dict` (the result JSON) and `retry(job: dict) -> dict` (a new job)
HANDLERS = {"lifestyle_heroes": "services.lifestyle", "sentence_image": "services.storyboard"}
# kind -> `jobType` of the job_complete / job_failed events (seed 002 listens for "image")
JOB_TYPES = {"lifestyle_heroes": "lifestyle_heroes", "sentence_image": "image"}

WORKER_DIED_MESSAGE = "The worker running this job stopped before it finished. Retry to generate what is missing."


class JobFailed(Exception):
    """Raised by a handler to fail its job with a code and message while still recording a result."""

    def __init__(self, code: str, message: str, *, detail: Any = None, result: dict | None = None):
        super().__init__(message)
        self.code, self.message, self.detail, self.result = code, message, detail, result


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
        "attempts": job.attempts,
        "workerId": job.worker_id,
        "requestedBy": job.requested_by,
        "createdAt": iso(job.created_at),
        "startedAt": iso(job.started_at),
        "finishedAt": iso(job.finished_at),
    }


def get_job(job_id: str) -> dict[str, Any]:
    with session_scope() as s:
        job = s.get(Job, job_id) if isinstance(job_id, str) else None
        if job is None:
            raise ReshootError("JOB_NOT_FOUND", 404, {"jobId": str(job_id)}, "Job not found")
        return job_json(job)


def get_jobs(job_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Several jobs in one query, by id; unknown ids are left out."""
    ids = [i for i in dict.fromkeys(job_ids) if isinstance(i, str)]
    if not ids:
        return {}
    with session_scope() as s:
        return {job.id: job_json(job) for job in s.exec(select(Job).where(col(Job.id).in_(ids)))}


def list_jobs(
    *,
    status: str | None = None,
    kind: str | None = None,
    work_item_id: str | None = None,
    sentence_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Newest first."""
    query = select(Job)
    for column, value in ((Job.status, status), (Job.kind, kind), (Job.work_item_id, work_item_id), (Job.sentence_id, sentence_id)):
        if value is not None:
            query = query.where(column == value)
    query = query.order_by(col(Job.created_at).desc(), col(Job.id)).offset(max(0, offset)).limit(max(1, min(limit, 1000)))
    with session_scope() as s:
        return [job_json(job) for job in s.exec(query)]


def active_job_for(target_key: str) -> dict[str, Any] | None:
    with session_scope() as s:
        job = s.exec(select(Job).where(Job.target_key == target_key, col(Job.status).in_(ACTIVE))).first()
        return job_json(job) if job else None


def active_jobs_for(target_keys: list[str]) -> dict[str, dict[str, Any]]:
    """target key -> its queued/running job, in one query (for grids)."""
    if not target_keys:
        return {}
    with session_scope() as s:
        query = select(Job).where(col(Job.target_key).in_(list(set(target_keys))), col(Job.status).in_(ACTIVE))
        return {job.target_key: job_json(job) for job in s.exec(query)}


def events_since(*, project_id: str | None = None, work_item_id: str | None = None, after_id: int = 0, limit: int = 200) -> list[dict[str, Any]]:
    """Events newer than `after_id`, oldest first: `{id, type, payload, createdAt}`."""
    query = select(Event).where(col(Event.id) > int(after_id or 0))
    if project_id is not None:
        query = query.where(Event.project_id == project_id)
    if work_item_id is not None:
        query = query.where(Event.work_item_id == work_item_id)
    with session_scope() as s:
        rows = s.exec(query.order_by(col(Event.id)).limit(max(1, min(limit, 1000)))).all()
        return [{"id": e.id, "type": e.type, "payload": e.payload, "createdAt": iso(e.created_at)} for e in rows]


def latest_event_id(*, project_id: str) -> int:
    """The id of the project's newest event, 0 if none."""
    with session_scope() as s:
        return s.exec(select(func.max(Event.id)).where(Event.project_id == project_id)).one() or 0


def enqueue(
    kind: str,
    target_key: str,
    params: dict[str, Any],
    *,
    work_item_id: str | None = None,
    sentence_id: str | None = None,
    project_id: str | None = None,
    action: AuditAction,
    progress_total: int = 0,
) -> tuple[dict[str, Any], bool]:
    """Record a queued job (requested by the current actor, with its audit row `action`) and put it on the queue;
    (job, True), or (the active job, False) if the target is busy."""
    if kind not in HANDLERS:
        raise ValueError(f"Unknown job kind {kind!r}")
    for _ in range(5):
        try:
            with session_scope() as s:
                job = Job(
                    kind=kind,
                    target_key=target_key,
                    params=params,
                    work_item_id=work_item_id,
                    sentence_id=sentence_id,
                    project_id=project_id,
                    requested_by=current_actor().email,
                    progress_total=progress_total,
                    message="Queued",
                )
                s.add(job)
                record(s, action=action, target=_job_target(job), after={"jobId": job.id, **params})
            break
        except IntegrityError:
            active = active_job_for(target_key)  # the one queued/running job for this target
            if active is not None:
                return active, False
    else:
        raise ReshootError("INTERNAL_ERROR", 500, {"targetKey": target_key}, "Could not record the job")
    queue = _queue()
    try:
        queue.task(job.id)
    except Exception as e:
        _finish(job.id, None, status="failed", code="QUEUE_UNAVAILABLE", message="The job queue is unavailable", detail=str(e), from_status="queued")
        raise ReshootError("QUEUE_UNAVAILABLE", 503, {"queue": queue.identity}, f"The job queue is unavailable: {e}. Check RESHOOT_QUEUE_URL (and that Redis runs).") from e
    return job_json(job), True


def _job_target(job: Job) -> Target:
    shots = (job.params or {}).get("shotIds") or []
    return Target("job", job.id, work_item_id=job.work_item_id, shot_id=shots[0] if len(shots) == 1 else None,
                  sentence_id=job.sentence_id, project_id=job.project_id)


def retry_job(job_id: str) -> dict[str, Any]:
    """Run a finished job again (a lifestyle job: only its failed shots, if some succeeded); returns the new job."""
    job = get_job(job_id)
    if job["status"] in ACTIVE:
        return job
    module = importlib.import_module(HANDLERS[job["kind"]])
    new_job_id = module.retry(job)["jobId"]
    with session_scope() as s:  # the new job's own row (its use case's action) is written with it
        record(s, action=AuditAction.retry_job, target=_job_target(s.get(Job, new_job_id)),
               before={"jobId": job_id, "status": job["status"]}, after={"jobId": new_job_id})
    return get_job(new_job_id)


def requester(job_requested_by: str | None) -> Actor:
    """Who a job's changes are recorded for: the person who requested it (the local user for older jobs)."""
    return Actor(email=job_requested_by, name="", role=Role.reviewer) if job_requested_by else current_actor()


def wait_for_job(job_id: str, timeout: float | None = None) -> dict[str, Any]:
    """Poll until the job is finished (or `timeout` seconds passed; then the job as it is now).

    With no live consumer for this queue anywhere (a fresh machine, the CLI with --wait), an embedded consumer
    is started in this process so the job runs."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay, next_check = 0.02, 0.0
    while True:
        job = get_job(job_id)
        if job["status"] in TERMINAL:
            return job
        now = time.monotonic()
        if now >= next_check:
            next_check = now + 1.0
            if job["status"] == "running":
                recover_orphaned_jobs(job_ids=[job_id])
            if not consumer_alive():
                start_embedded_worker()
        if deadline is not None and now >= deadline:
            return job
        time.sleep(delay if deadline is None else max(0.0, min(delay, deadline - now)))
        delay = min(delay * 1.5, 0.25)


# --- Running a job ---------------------------------------------------------------------------------------


@dataclass
class JobContext:
    """What a handler gets: the job's identity and parameters, and progress reporting."""

    id: str
    kind: str
    params: dict[str, Any]
    worker_id: str | None
    work_item_id: str | None = None
    sentence_id: str | None = None
    project_id: str | None = None
    attempts: int = 1
    requested_by: str | None = None
    message: str = "Done"  # set by the handler: the human message on success

    def progress(self, done: int, total: int, message: str | None = None) -> None:
        values: dict[str, Any] = {"progress_done": done, "progress_total": total, "heartbeat_at": utcnow()}
        if message is not None:
            values["message"] = message
        with session_scope() as s:
            s.exec(update(Job).where(Job.id == self.id, Job.status == "running").values(**values))


def execute_job(job_id: str, worker_id: str | None) -> None:
    """Claim a queued job and run its handler; every outcome ends up on the Job row."""
    ctx = _claim(job_id, worker_id)
    if ctx is None:
        return  # already claimed, finished or reaped (e.g. a duplicate queue message)
    try:
        handler = importlib.import_module(HANDLERS[ctx.kind])
        with acting_as(requester(ctx.requested_by)):  # its new versions are recorded for the requester
            result = handler.run_job(ctx)
    except JobFailed as e:
        _finish(job_id, worker_id, status="failed", code=e.code, message=e.message, detail=_detail(e.detail), result=e.result)
    except ReshootError as e:
        _finish(job_id, worker_id, status="failed", code=e.code, message=e.message, detail=_detail(e.details))
    except Exception as e:
        log.exception("Job %s failed", job_id)
        _finish(job_id, worker_id, status="failed", code="INTERNAL_ERROR", message=f"Unexpected error: {e}", detail=traceback.format_exc()[-4000:])
    else:
        _finish(job_id, worker_id, status="succeeded", message=ctx.message, result=result)


def _detail(detail: Any) -> str | None:
    if detail is None or isinstance(detail, str):
        return detail
    return json.dumps(detail, default=str)


def _claim(job_id: str, worker_id: str | None) -> JobContext | None:
    now = utcnow()
    with session_scope() as s:
        claimed = s.exec(
            update(Job)
            .where(Job.id == job_id, Job.status == "queued")
            .values(status="running", worker_id=worker_id, started_at=now, heartbeat_at=now, attempts=Job.attempts + 1, message="Starting")
        ).rowcount
        if claimed != 1:
            return None
        job = s.get(Job, job_id)
        return JobContext(
            id=job.id,
            kind=job.kind,
            params=dict(job.params or {}),
            worker_id=worker_id,
            work_item_id=job.work_item_id,
            sentence_id=job.sentence_id,
            project_id=job.project_id,
            attempts=job.attempts,
            requested_by=job.requested_by,
        )


def _finish(
    job_id: str,
    worker_id: str | None,
    *,
    status: str,
    message: str,
    code: str | None = None,
    detail: str | None = None,
    result: dict | None = None,
    from_status: str = "running",
) -> bool:
    """Move a job to succeeded/failed (only from `from_status`, only if this worker still owns it) plus its event."""
    values: dict[str, Any] = {"status": status, "message": message, "finished_at": utcnow(), "error_code": code, "error_detail": detail}
    if result is not None:
        values["result"] = result
    with session_scope() as s:
        query = update(Job).where(Job.id == job_id, Job.status == from_status)
        if worker_id is not None:
            query = query.where(Job.worker_id == worker_id)
        if s.exec(query.values(**values)).rowcount != 1:
            return False
        job = s.get(Job, job_id)
        if status == "succeeded" and job.progress_total:
            job.progress_done = job.progress_total
        s.add(_event_for(job))
    return True


def _event_for(job: Job) -> Event:
    payload: dict[str, Any] = {
        "type": "job_complete" if job.status == "succeeded" else "job_failed",
        "jobType": JOB_TYPES.get(job.kind, job.kind),
        "jobId": job.id,
    }
    for key, value in (("sentenceId", job.sentence_id), ("workItemId", job.work_item_id), ("projectId", job.project_id)):
        if value is not None:
            payload[key] = value
    if job.error_code:
        payload["error"] = job.error_code
    return Event(project_id=job.project_id, work_item_id=job.work_item_id, type=payload["type"], payload=payload)


# --- Dead workers -------------------------------------------------------------------------------------


def recover_orphaned_jobs(job_ids: list[str] | None = None) -> list[str]:
    """Mark running jobs whose worker is gone as failed (WORKER_DIED); returns their ids."""
    now = utcnow()
    with session_scope() as s:
        query = select(Job).where(Job.status == "running")
        if job_ids is not None:
            query = query.where(col(Job.id).in_(job_ids))
        running = s.exec(query).all()
        if not running:
            return []
        worker_ids = {j.worker_id for j in running if j.worker_id}
        workers = {w.id: w for w in s.exec(select(WorkerProcess).where(col(WorkerProcess.id).in_(worker_ids)))}
    reaped, ours = [], {c.worker_id for c in _consumers.values()}
    for job in running:
        if job.worker_id in ours:
            continue  # a live consumer of this process runs it (even if its row was lost, e.g. a restored database)
        worker = workers.get(job.worker_id or "")
        if _worker_dead(worker, now) or _job_silent(job, now):
            detail = f"worker {job.worker_id} stopped or stopped answering"
            if _finish(job.id, job.worker_id, status="failed", code="WORKER_DIED", message=WORKER_DIED_MESSAGE, detail=detail):
                log.warning("Job %s: %s", job.id, detail)
                reaped.append(job.id)
    return reaped


def requeue_lost_jobs() -> list[str]:
    """Put queued jobs whose queue message is gone (a flushed Redis, a deleted queue file, a crash between the
    insert and the enqueue) back on the queue, so their target is not blocked forever. A duplicate message
    is harmless: only one consumer can claim a queued job."""
    cutoff = utcnow() - timedelta(seconds=LOST_AFTER_SECONDS)
    with session_scope() as s:
        queued = s.exec(select(Job.id).where(Job.status == "queued", Job.created_at < cutoff).order_by(col(Job.created_at)).limit(500)).all()
    if not queued:
        return []
    queue = _queue()
    pending = {task.args[0] for task in queue.huey.pending() if task.args}
    lost = [job_id for job_id in queued if job_id not in pending]
    for job_id in lost:
        log.warning("Job %s was queued without a queue message; enqueuing it again", job_id)
        queue.task(job_id)
    return lost


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


def _job_silent(job: Job, now: datetime) -> bool:
    last = job.heartbeat_at or job.started_at
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
    with session_scope() as s:
        workers = s.exec(
            select(WorkerProcess).where(
                WorkerProcess.queue == _identity(url),
                col(WorkerProcess.stopped_at).is_(None),
                WorkerProcess.heartbeat_at >= now - timedelta(seconds=WORKER_STALE_SECONDS),
            )
        ).all()
    return any(not _worker_dead(w, now) for w in workers)


# --- Queues and consumers ---------------------------------------------------------------------------------


_HOST = socket.gethostname()[:60]


@dataclass
class _Queue:
    url: str
    identity: str
    huey: Huey
    task: TaskWrapper


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
        huey = RedisHuey(name=name, url=clean, results=False)
    else:
        raise ReshootError("BAD_CONFIGURATION", 500, {"queue_url": _identity(url)}, f"Unsupported queue URL: {_identity(url)}")

    @huey.task(name="reshoot_run_job")
    def run_job_task(job_id: str) -> None:
        running = _consumers.get(url)
        execute_job(job_id, running.worker_id if running else None)

    return _Queue(url=url, identity=_identity(url), huey=huey, task=run_job_task)


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
    running = _Consumer(queue=queue, consumer=consumer, worker_id=f"{_HOST}:{os.getpid()}:{secrets.token_hex(3)}", embedded=embedded)
    with session_scope() as s:
        s.add(_worker_row(running))
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
        with session_scope() as s:
            s.exec(update(WorkerProcess).where(WorkerProcess.id == worker_id).values(stopped_at=utcnow()))
    except Exception:  # the database may be gone at interpreter exit; heartbeats going stale say the same
        log.debug("Could not mark worker %s stopped", worker_id, exc_info=True)


def _heartbeat_loop(running: _Consumer) -> None:
    beats = 0
    while not running.stop.wait(HEARTBEAT_SECONDS):
        if get_settings().queue_url != running.queue.url:
            return  # settings changed under a stale consumer (tests); it must not touch the new database
        try:
            now = utcnow()
            with session_scope() as s:
                if not s.exec(update(WorkerProcess).where(WorkerProcess.id == running.worker_id).values(heartbeat_at=now)).rowcount:
                    s.add(_worker_row(running))  # the row was lost (e.g. a restored database): alive is alive
                s.exec(update(Job).where(Job.worker_id == running.worker_id, Job.status == "running").values(heartbeat_at=now))
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


@contextmanager
def backend_slot() -> Iterator[None]:
    """Hold one of this process's RESHOOT_GENERATION_CONCURRENCY backend slots (jobs x shots stay bounded)."""
    global _slots
    size = get_settings().generation_concurrency
    with _slots_lock:
        if _slots is None or _slots[0] != size:
            _slots = (size, threading.BoundedSemaphore(size))
        semaphore = _slots[1]
    with semaphore:
        yield
