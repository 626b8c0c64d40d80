"""Worker processes: the Huey queue, its consumers (embedded threads in the dashboard, the API and the CLI, or
`python -m services worker`), their WorkerProcess rows and heartbeats, and what each runs (Settings)."""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TypedDict
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

from huey import PriorityRedisHuey, SqliteHuey
from huey.api import Huey, TaskWrapper
from huey.consumer import Consumer
from huey.storage import SqliteStorage
from sqlalchemy import update
from sqlmodel import col, select

from services.config import get_settings
from services.db import session_scope
from services.enums import JobStatus
from services.errors import ReshootError
from services.jobs import leases, recovery, runner
from services.models import GenerationClaim, Job, WorkerProcess, utcnow
from services.read_models.jobs import RunningClaim, WorkerPublic

log = logging.getLogger("reshoot.jobs")

HEARTBEAT_SECONDS = 2.0


FINISH_SECONDS = 10.0  # how long a stopping worker process waits for the shots it is finishing


WORKER_STALE_SECONDS = 15.0  # a consumer silent this long is presumed dead


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
    return any(not recovery._worker_dead(w, now) for w in workers)


def list_workers() -> list[WorkerPublic]:
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
        alive = [w for w in workers if not recovery._worker_dead(w, now)]
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
    by_worker: dict[str, list[RunningClaim]] = {}
    for claim in running:
        if claim.worker_id is None:  # never: the query asked for these workers' claims
            continue
        by_worker.setdefault(claim.worker_id, []).append(
            RunningClaim(job_id=claim.job_id, target=claim.target_key, started_at=claim.started_at)
        )
    return [
        WorkerPublic(
            id=w.id,
            host=w.host,
            pid=w.pid,
            embedded=w.embedded,
            concurrency=w.concurrency,
            started_at=w.started_at,
            heartbeat_at=w.heartbeat_at,
            running=by_worker.get(w.id, []),
        )
        for w in alive
    ]


_HOST = socket.gethostname()[:60]


@dataclass
class _Queue:
    url: str
    identity: str
    huey: Huey
    claim_task: TaskWrapper


class _Claims:
    """The claims a consumer runs, each on a thread of its own. The consumer thread that took a claim from the queue
    waits only until the claim's backend call ended (`leases.after_call`), then takes the next one: our own work on
    the answer (exports, thumbnails, storage, version rows) overlaps the next backend call instead of keeping a
    backend slot idle. The consumer's threads still bound the claims before and in their backend call, and so the
    queue's order (a click's shot goes ahead); at most `size` claims are in flight in all."""

    def __init__(self, size: int):
        self.room = threading.BoundedSemaphore(size)
        self.lock = threading.Lock()
        self.threads: dict[threading.Thread, threading.Event] = {}  # each claim's thread: its backend call ended

    def run(self, claim_id: int, worker_id: str) -> None:
        self.room.acquire()
        called = threading.Event()
        thread = threading.Thread(
            target=self._execute, args=(claim_id, worker_id, called), name=f"reshoot-claim-{claim_id}", daemon=True
        )
        with self.lock:
            self.threads[thread] = called
        thread.start()
        called.wait()

    def _execute(self, claim_id: int, worker_id: str, called: threading.Event) -> None:
        try:
            with leases.after_call(called.set):
                runner.execute_claim(claim_id, worker_id)
        except Exception:
            log.exception("Claim %s failed", claim_id)
        finally:
            called.set()
            with self.lock:
                self.threads.pop(threading.current_thread(), None)
            self.room.release()

    def join(self, deadline: float, *, past_call_only: bool = False) -> None:
        """Wait (until the monotonic `deadline`) for the claims still running, or only those past their call."""
        with self.lock:
            threads = [t for t, called in self.threads.items() if called.is_set() or not past_call_only]
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


@dataclass
class _Consumer:
    queue: _Queue
    consumer: Consumer
    worker_id: str
    embedded: bool
    claims: _Claims
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


IDLE_WAIT_SECONDS = 0.5  # an idle SQLite queue's consumer looks for tasks other processes queued this often


class _WakingSqliteStorage(SqliteStorage):
    """Huey's SQLite queue whose consumers wait for a task instead of sleeping between polls: a task queued in this
    process (a click's job in the dashboard) wakes them at once, where a poll backing off to its longest sleep had
    left it waiting up to half a second; a task another process queued is seen within IDLE_WAIT_SECONDS, as
    before. Huey's workers do not sleep between reads of a storage that says it blocks (huey 3.5.4)."""

    blocking = True

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._queued = threading.Condition()
        self._queued_count = 0

    def enqueue(self, data: bytes, priority: float | None = None) -> None:
        super().enqueue(data, priority)
        self.wake()

    def wake(self) -> None:
        """Wake every consumer waiting for a task (one was queued, or the consumer stops)."""
        with self._queued:
            self._queued_count += 1
            self._queued.notify_all()

    def dequeue(self) -> bytes | None:
        seen = self._queued_count
        data: bytes | None = super().dequeue()
        if data is None:
            with self._queued:
                if self._queued_count == seen:
                    self._queued.wait(IDLE_WAIT_SECONDS)
        return data


class _SqliteHuey(SqliteHuey):
    storage_class = _WakingSqliteStorage


def _make_queue(url: str) -> _Queue:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = Path(url.split("///", 1)[-1])
        path.parent.mkdir(parents=True, exist_ok=True)
        huey: Huey = _SqliteHuey(name="reshoot", filename=str(path), results=False, timeout=30)
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
        if running is None:
            runner.execute_claim(claim_id, None)
        else:
            running.claims.run(claim_id, running.worker_id)

    @huey.task(name="reshoot_run_job")
    def run_job_task(job_id: str) -> None:  # messages queued before jobs had claims
        runner._materialize(job_id)

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

    # Huey internals: `Consumer.start()` calls this private method (huey/consumer.py); overriding it is the only
    # way to start a consumer off the main thread. Checked against huey 3.5.4; every embedded consumer in tests runs it.
    def _set_signal_handlers(self) -> None:
        pass


class _ConsumerOptions(TypedDict):
    """Huey's `Consumer` keyword arguments that Reshoot sets."""

    workers: int
    periodic: bool
    initial_delay: float
    backoff: float
    max_delay: float
    check_worker_health: bool


REDIS_POLL_SECONDS = 0.1  # an idle Redis queue: a ZPOPMIN costs ~0.1 ms, so 10 polls a second per thread are cheap


def _consumer_options() -> _ConsumerOptions:
    # The delays between polls of an idle Redis queue (a SQLite queue's workers wait in its storage instead). Huey
    # polls Redis's priority queue (a sorted set) rather than blocking on it; at most REDIS_POLL_SECONDS apart, every
    # idle thread of every worker takes a generate-all's first shots within 0.1 s, not 0.5 s.
    return {
        "workers": get_settings().generation_concurrency,
        "periodic": False,
        "initial_delay": 0.05,
        "backoff": 1.5,
        "max_delay": REDIS_POLL_SECONDS,
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
    _load_backend()
    queue = _queue()
    consumer = queue.huey.create_consumer(**(_consumer_options() | {"check_worker_health": True}))
    with _lock:
        running = _register(queue, consumer, embedded=False)
    log.info("Reshoot worker %s consuming %s with %d threads", running.worker_id, queue.identity, consumer.workers)
    try:
        consumer.run()
    finally:
        with _lock:
            # Huey has stopped taking work; shots past their backend call (their image paid for) finish first.
            _stop_consumer(queue.url, 0, finishing=FINISH_SECONDS)


def _load_backend() -> None:
    """Import the configured backend's client before taking work: the `openai` package costs about a second of CPU
    to import, which the worker's first shots would otherwise wait for. A misconfigured backend is reported by the
    shots themselves, as before."""
    from services import backends

    try:
        backends.get_backend()
    except Exception:
        log.warning("Could not load the image backend yet", exc_info=True)


def _register(queue: _Queue, consumer: Consumer, *, embedded: bool) -> _Consumer:
    running = _Consumer(
        queue=queue,
        consumer=consumer,
        worker_id=f"{_HOST}:{os.getpid()}:{secrets.token_hex(3)}",
        embedded=embedded,
        claims=_Claims(2 * consumer.workers),  # as many finishing as calling
    )
    with session_scope() as session:
        session.add(_worker_row(running))
    _consumers[queue.url] = running
    recovery.recover_orphaned_jobs()  # jobs left running by a dead worker, e.g. this process's previous incarnation
    recovery.requeue_lost_jobs()
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


def _stop_consumer(url: str, timeout: float = 10.0, *, finishing: float = 0.0) -> None:
    """Stop a consumer: its threads and claims may take `timeout` seconds to end, and claims past their backend
    call (their image paid for) `finishing` seconds."""
    running = _consumers.pop(url, None)
    if running is None:
        return
    running.stop.set()
    # Huey internals: `stop_flag` (the event its worker loops check) and `worker_threads` ((worker, thread) pairs)
    # are Consumer attributes, not API (huey 3.5.4). `Consumer.stop()` would interrupt the running tasks once its own
    # shutdown timeout passed; here they finish within `timeout`, then the worker row is marked stopped.
    running.consumer.stop_flag.set()
    if isinstance(running.queue.huey.storage, _WakingSqliteStorage):
        running.queue.huey.storage.wake()  # its waiting worker threads see the stop at once
    deadline = time.monotonic() + timeout
    for _, thread in running.consumer.worker_threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    running.claims.join(deadline)
    running.claims.join(time.monotonic() + finishing, past_call_only=True)
    _mark_stopped(running.worker_id)


def _mark_stopped(worker_id: str) -> None:
    try:
        with session_scope() as session:
            session.exec(update(WorkerProcess).where(col(WorkerProcess.id) == worker_id).values(stopped_at=utcnow()))
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
                    update(WorkerProcess).where(col(WorkerProcess.id) == running.worker_id).values(heartbeat_at=now)
                ).rowcount:
                    session.add(_worker_row(running))  # the row was lost (e.g. a restored database): alive is alive
                session.exec(
                    update(Job)
                    .where(col(Job.worker_id) == running.worker_id, col(Job.status) == JobStatus.running)
                    .values(heartbeat_at=now)
                )
                session.exec(
                    update(GenerationClaim)
                    .where(
                        col(GenerationClaim.worker_id) == running.worker_id,
                        col(GenerationClaim.status) == JobStatus.running,
                    )
                    .values(heartbeat_at=now)
                )
            leases._renew_leases(now)
            beats += 1
            if beats % 5 == 0:
                recovery.recover_orphaned_jobs()
                recovery.requeue_lost_jobs()
        except Exception:
            log.exception("Heartbeat of worker %s failed", running.worker_id)


@atexit.register
def _mark_all_stopped() -> None:
    for running in list(_consumers.values()):
        _mark_stopped(running.worker_id)
