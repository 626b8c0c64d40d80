"""The job engine: one job per target, progress and events, in-process consumers, dead workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from huey.storage import SqliteStorage
from sqlmodel import select

from services import jobs, storyboard, versions
from services.config import PROJECT_ROOT, get_settings
from services.db import session_scope
from services.errors import ReshootError
from services.jobs import workers
from services.models import Job, WorkerProcess, utcnow


def wait_until(condition, timeout=20.0, message="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {message}"
        time.sleep(0.05)


def test_two_concurrent_requests_for_one_target_get_one_job(demo, fake_backend):
    barrier = threading.Barrier(8)
    answers = []

    def click():
        barrier.wait()
        answers.append(storyboard.regenerate_sentence_image(sentence_id="sent_001").job_id)

    threads = [threading.Thread(target=click) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 8 and len(set(answers)) == 1
    with session_scope() as s:
        assert len(s.exec(select(Job)).all()) == 1
    assert jobs.active_job_for("sentence:sent_001").id == answers[0]
    assert jobs.wait_for_job(answers[0], timeout=30).status == "succeeded"
    assert len(fake_backend.calls) == 1
    assert jobs.active_job_for("sentence:sent_001") is None
    assert (
        storyboard.regenerate_sentence_image(sentence_id="sent_001").job_id != answers[0]
    )  # finished: a new request, a new job


def test_job_row_goes_queued_running_succeeded_with_progress(demo, fake_backend):
    fake_backend.delay = 0.5
    job_id = storyboard.regenerate_sentence_image(
        sentence_id="sent_002", options=storyboard.RegenerateImageOptions(seed=3)
    ).job_id
    queued = jobs.get_job(job_id)
    assert (queued.status, queued.kind, queued.progress_total, queued.attempts) == (
        "queued",
        "sentence_image",
        1,
        0,
    )
    jobs.start_embedded_worker()
    # A running job says "Starting" until its handler reports its first step.
    wait_until(lambda: jobs.get_job(job_id).message == "Generating image", message="the first step")
    running = jobs.get_job(job_id)
    assert running.status == "running" and running.started_at and running.attempts == 1
    done = jobs.wait_for_job(job_id, timeout=30)
    assert (done.status, done.progress_done, done.message) == ("succeeded", 1, "Image regenerated")
    assert done.finished_at >= done.started_at and done.result["seed"] == 3
    assert jobs.get_jobs([job_id, "job_nope"]) == {job_id: done}
    assert [j.id for j in jobs.list_jobs(status="succeeded")] == [job_id] and jobs.list_jobs(status="failed") == []
    with pytest.raises(ReshootError) as e:
        jobs.get_job("job_nope")
    assert (e.value.status, e.value.code) == (404, "JOB_NOT_FOUND")


def test_wait_for_job_starts_a_consumer_in_this_process_when_none_is_alive(demo, fake_backend):
    assert not jobs.consumer_alive()
    job_id = storyboard.regenerate_sentence_image(sentence_id="sent_001").job_id
    assert jobs.get_job(job_id).status == "queued"
    assert jobs.wait_for_job(job_id, timeout=30).status == "succeeded"
    assert jobs.consumer_alive()


def test_the_embedded_worker_starts_off_the_main_thread_once(db):
    ids, errors = [], []

    def start():
        try:
            ids.append(jobs.start_embedded_worker())
        except Exception as e:  # e.g. "signal only works in main thread"
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(ids)) == 1
    with session_scope() as s:
        [worker] = s.exec(select(WorkerProcess)).all()
    assert worker.embedded and worker.pid == os.getpid() and worker.concurrency == get_settings().generation_concurrency


def test_an_unexpected_error_fails_the_job_and_retry_runs_it_again(demo, fake_backend):
    fake_backend.fail_when = lambda prompt: ValueError("boom")
    failed = jobs.wait_for_job(
        storyboard.regenerate_sentence_image(
            sentence_id="sent_001", options=storyboard.RegenerateImageOptions(seed=9)
        ).job_id,
        timeout=30,
    )
    assert (failed.status, failed.error_code) == ("failed", "INTERNAL_ERROR") and "boom" in failed.error_detail
    fake_backend.fail_when = None
    again = jobs.retry_job(failed.id)
    assert again.id != failed.id and again.params["seed"] == 9
    assert jobs.wait_for_job(again.id, timeout=30).status == "succeeded"


def test_a_running_job_of_a_silent_worker_is_failed_when_a_consumer_starts(demo):
    now = utcnow()
    with session_scope() as s:
        s.add(
            WorkerProcess(
                id="elsewhere:1:dead", queue="x", host="elsewhere", pid=1, heartbeat_at=now - timedelta(minutes=5)
            )
        )
        s.add(WorkerProcess(id="elsewhere:2:alive", queue="x", host="elsewhere", pid=2, heartbeat_at=now))
        for job_id, worker in (("job_orphan", "elsewhere:1:dead"), ("job_busy", "elsewhere:2:alive")):
            s.add(
                Job(
                    id=job_id,
                    kind="sentence_image",
                    target_key=f"t:{job_id}",
                    sentence_id="sent_001",
                    project_id="coffee-origins",
                    status="running",
                    worker_id=worker,
                    started_at=now,
                    heartbeat_at=now,
                )
            )
    jobs.start_embedded_worker()
    orphan = jobs.get_job("job_orphan")
    assert (orphan.status, orphan.error_code) == ("failed", "WORKER_DIED") and orphan.finished_at
    assert jobs.get_job("job_busy").status == "running"  # its worker is alive elsewhere
    assert jobs.events_since(project_id="coffee-origins")[-1].payload == {
        "type": "job_failed",
        "jobType": "image",
        "jobId": "job_orphan",
        "sentenceId": "sent_001",
        "projectId": "coffee-origins",
        "error": "WORKER_DIED",
    }


SLOW_WORKER = """
import sys, time, pathlib
from services import backends
from services.backends.local import LocalBackend

class Slow(LocalBackend):
    def generate(self, prompt, **kwargs):
        pathlib.Path(sys.argv[1]).write_text("started")
        time.sleep(120)
        return super().generate(prompt, **kwargs)

backends.get_backend = lambda name=None: Slow()
from services.cli import main
raise SystemExit(main(["worker"]))
"""


def test_a_worker_killed_mid_job_leaves_the_old_image_and_no_stuck_job(demo, tmp_path):
    first = jobs.wait_for_job(
        storyboard.regenerate_sentence_image(
            sentence_id="sent_001", options=storyboard.RegenerateImageOptions(seed=1)
        ).job_id,
        timeout=30,
    )
    before = storyboard.get_sentence("sent_001")
    jobs.stop_embedded_worker()

    marker = tmp_path / "started"
    worker = subprocess.Popen(
        [sys.executable, "-c", SLOW_WORKER, str(marker)],
        cwd=PROJECT_ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        job_id = storyboard.regenerate_sentence_image(
            sentence_id="sent_001", options=storyboard.RegenerateImageOptions(seed=2)
        ).job_id
        wait_until(marker.exists, timeout=30, message="the worker process to start generating")
        assert jobs.get_job(job_id).status == "running"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)

    jobs.start_embedded_worker()  # the next start notices the dead worker (so would reading the job a second later)
    dead = jobs.get_job(job_id)
    assert (dead.status, dead.error_code) == ("failed", "WORKER_DIED")
    after = storyboard.get_sentence("sent_001")
    assert after.image_file == before.image_file and after.version_id == first.result["versionId"]
    assert len(versions.list_versions("sentence", "sent_001")) == 1
    retried = jobs.wait_for_job(jobs.retry_job(job_id).id, timeout=30)
    assert retried.status == "succeeded" and retried.result["seed"] == 2


def test_an_unreachable_queue_fails_the_request_and_frees_the_target(demo, monkeypatch):
    monkeypatch.setenv("RESHOOT_QUEUE_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    with pytest.raises(ReshootError) as e:
        storyboard.regenerate_sentence_image(sentence_id="sent_001")
    assert (e.value.status, e.value.code) == (503, "QUEUE_UNAVAILABLE")
    assert jobs.active_job_for("sentence:sent_001") is None
    assert jobs.list_jobs()[0].error_code == "QUEUE_UNAVAILABLE"


@pytest.mark.parametrize(
    "per_process, across_processes, database", [("2", "0", "sqlite"), ("8", "2", "sqlite"), ("8", "2", "postgresql")]
)
def test_backend_slots_bound_concurrent_calls(db, monkeypatch, request, per_process, across_processes, database):
    """RESHOOT_GENERATION_CONCURRENCY bounds this process; RESHOOT_BACKEND_CONCURRENCY every process (leases, taken
    with one UPDATE that skips the rows other transactions are taking on PostgreSQL)."""
    if database == "postgresql":
        from services.db import migrate

        monkeypatch.setenv("RESHOOT_DATABASE_URL", request.getfixturevalue("postgres_url"))
        get_settings.cache_clear()
        migrate()
    monkeypatch.setenv("RESHOOT_GENERATION_CONCURRENCY", per_process)
    monkeypatch.setenv("RESHOOT_BACKEND_CONCURRENCY", across_processes)
    get_settings.cache_clear()
    active, peak, lock = [0], [0], threading.Lock()

    def call():
        with jobs.backend_slot():
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.05)
            with lock:
                active[0] -= 1

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 2


def test_a_queued_job_whose_message_was_lost_is_enqueued_again(demo, fake_backend):
    with session_scope() as s:
        s.add(
            Job(
                id="job_lost",
                kind="sentence_image",
                target_key="sentence:sent_001",
                sentence_id="sent_001",
                project_id="coffee-origins",
                params={"prompt": "a lost prompt", "seed": 5, "seedGiven": True},
                created_at=utcnow() - timedelta(minutes=2),
            )
        )
    assert storyboard.regenerate_sentence_image(sentence_id="sent_001").job_id == "job_lost"  # it blocks its target...
    jobs.start_embedded_worker()  # ...until a consumer starts and notices it is not on the queue
    assert jobs.wait_for_job("job_lost", timeout=30).status == "succeeded"
    assert fake_backend.calls[-1]["prompt"] == "a lost prompt"


def test_dedup_and_a_job_on_postgresql(postgres_url, monkeypatch, fake_backend):
    from services.db import migrate
    from services.demo import load_demo

    monkeypatch.setenv("RESHOOT_DATABASE_URL", postgres_url)
    get_settings.cache_clear()
    migrate()
    load_demo(generate_images=False)
    answers = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(
                storyboard.regenerate_sentence_image(
                    sentence_id="sent_002", options=storyboard.RegenerateImageOptions(seed=4)
                ).job_id
            )
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(answers)) == 1
    assert jobs.wait_for_job(answers[0], timeout=30).status == "succeeded"
    assert (
        storyboard.get_sentence("sent_002").seed == 4 and versions.list_versions("sentence", "sent_002")[0].is_current
    )
    jobs.stop_embedded_worker()  # before the fixture drops the database


def test_a_job_of_a_live_consumer_here_survives_losing_its_worker_row(demo, fake_backend):
    fake_backend.delay = 0.5
    jobs.start_embedded_worker()
    job_id = storyboard.regenerate_sentence_image(sentence_id="sent_001").job_id
    wait_until(lambda: jobs.get_job(job_id).status == "running", message="running")
    with session_scope() as s:  # e.g. a test or an admin restored the database under a running process
        for worker in s.exec(select(WorkerProcess)).all():
            s.delete(worker)
    assert jobs.recover_orphaned_jobs() == []
    assert jobs.wait_for_job(job_id, timeout=30).status == "succeeded"


def test_a_waiter_is_woken_when_this_process_finishes_the_job_not_by_polling(demo, monkeypatch):
    jobs.stop_embedded_worker()  # the job stays queued until the test finishes it
    job_id = storyboard.regenerate_sentence_image(
        sentence_id="sent_001", options=storyboard.RegenerateImageOptions(seed=5)
    ).job_id
    reads = []
    real_get_job = jobs.get_job

    def counted_get_job(job_id):
        job = real_get_job(job_id)
        reads.append(job_id)  # after the read: the test finishes the job only once the waiter has seen it queued
        return job

    monkeypatch.setattr(jobs.rows, "get_job", counted_get_job)
    monkeypatch.setattr(jobs.runner, "OTHER_PROCESS_CHECK_SECONDS", 60.0)  # only a wake-up can end the wait in time
    done = {}
    waiter = threading.Thread(target=lambda: done.update(job=jobs.wait_until_finished(job_id, timeout=60.0)))
    waiter.start()
    while not reads:  # the waiter has read the row once and waits
        time.sleep(0.01)
    assert jobs.runner._finish(job_id, None, status="failed", message="stopped by the test", from_status=("queued",))
    waiter.join(timeout=30)
    assert not waiter.is_alive() and done["job"].status == "failed"
    assert len(reads) == 2  # the first read, and one after the wake-up: no polling in between
    assert jobs.wait_until_finished(job_id, timeout=0).status == "failed"


def test_a_task_queued_in_this_process_wakes_the_idle_consumer_not_its_next_poll(db, monkeypatch):
    jobs.stop_embedded_worker()  # this test is the consumer
    storage = workers._queue().huey.storage  # the SQLite queue of the test settings
    assert storage.blocking  # so Huey's worker loop does not sleep between reads either
    reads = []
    real_dequeue = SqliteStorage.dequeue

    def counted_dequeue(self):
        data = real_dequeue(self)
        reads.append(data)  # after the read: the test queues its task only once the consumer has found none
        return data

    monkeypatch.setattr(SqliteStorage, "dequeue", counted_dequeue)
    monkeypatch.setattr(workers, "IDLE_WAIT_SECONDS", 60.0)  # only a wake-up can end the wait in time
    taken = []

    def consume():
        while not taken or taken[-1] is None:
            taken.append(storage.dequeue())

    consumer = threading.Thread(target=consume)
    consumer.start()
    while not reads:  # the consumer has read the empty queue once and waits
        time.sleep(0.01)
    storage.enqueue(b"task")
    consumer.join(timeout=30)
    assert not consumer.is_alive() and taken == [None, b"task"]
    assert reads == [None, b"task"]  # the first read, and one after the wake-up: no polling in between


def test_each_job_kind_is_registered_by_its_use_case_module_with_all_four_handlers():
    from services import lifestyle
    from services.enums import JobKind

    registered = {kind: jobs.registration.handlers(kind) for kind in JobKind}
    assert {kind: h.run_claim.__module__ for kind, h in registered.items()} == {
        JobKind.lifestyle_heroes: "services.lifestyle",
        JobKind.sentence_image: "services.storyboard",
    }
    heroes = registered[JobKind.lifestyle_heroes]
    assert (heroes.units_for, heroes.run_claim, heroes.summarize, heroes.retry) == (
        lifestyle.units_for,
        lifestyle.run_claim,
        lifestyle.summarize,
        lifestyle.retry,
    )
    assert [jobs.registration.event_job_type(kind) for kind in JobKind] == ["lifestyle_heroes", "image"]
    with pytest.raises(ValueError, match="registered twice"):
        jobs.register(JobKind.sentence_image)
    with pytest.raises(ValueError, match="Unknown job kind 'thumbnails': no handlers registered"):
        jobs.registration.handlers("thumbnails")


def test_a_fresh_process_that_imports_the_entry_points_handlers_finds_every_kind():
    """What a `python -m services worker` process has before its first claim: nothing but services.job_handlers."""
    code = (
        "import services.job_handlers\n"
        "from services.enums import JobKind\n"
        "from services.jobs import registration\n"
        "print(sorted(str(registration.handlers(kind).kind) for kind in JobKind))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['lifestyle_heroes', 'sentence_image']"


def test_a_pooled_postgresql_connection_the_server_dropped_is_replaced(postgres_url, monkeypatch):
    """Connections back from use under a second ago are not pinged (a shot checks one out about ten times); one that
    sat in the pool longer is, so a server restart or idle timeout meanwhile costs no failed statement."""
    import psycopg
    from sqlalchemy import text

    from services import db

    monkeypatch.setenv("RESHOOT_DATABASE_URL", postgres_url)
    get_settings.cache_clear()
    with session_scope() as s:
        pid = s.exec(text("SELECT pg_backend_pid()")).scalar()
    with session_scope() as s:  # back from use just now: the same connection, not pinged
        assert s.exec(text("SELECT pg_backend_pid()")).scalar() == pid
    admin = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    monkeypatch.setattr(db, "PING_IDLE_SECONDS", 0.0)  # as if it had waited in the pool
    with session_scope() as s:
        assert s.exec(text("SELECT pg_backend_pid()")).scalar() != pid
    db.get_engine().dispose()
