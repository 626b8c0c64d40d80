"""Kill -9 a worker mid-job, a few times, on PostgreSQL + Redis (`python -m services worker` processes) and in the
embedded mode (a CLI process running the job in its own threads), then check what an operator would: no job is
stuck, a retry makes only what is missing, every hero serves its current version's bytes, and after
`python -m services gc` no orphan file is left."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time

import pytest
from sqlmodel import col, select

from services import jobs, lifestyle, sweeper, versions
from services.config import PROJECT_ROOT, get_settings
from services.db import session_scope
from services.enums import ACTIVE_STATUSES, FINISHED_STATUSES
from services.importer import import_data
from services.models import ExportPlanRow, GenerationClaim, ImageVersion
from services.storage import get_storage
from tests.fakes import FakeOpenAI
from tests.fakes.openai_server import SCHEMAS

WORK_ITEM = "fi"
SHOTS = [f"F-{n}" for n in range(1, 6)]
REDIS = "redis://127.0.0.1:6379/0"


class SlowOpenAI(FakeOpenAI):
    """The OpenAI fake, answering each image request after a while (so a kill lands mid-job)."""

    latency = 0.4

    def handle(self, request):
        if request.path in SCHEMAS:
            self.hang(self.latency)
        return super().handle(request)


@pytest.fixture
def slow_openai(monkeypatch):
    fake = SlowOpenAI().start()
    for name, value in {
        "RESHOOT_IMAGE_BACKEND": "openai",
        "OPENAI_API_KEY": fake.api_key,
        "RESHOOT_OPENAI_BASE_URL": fake.base_url,
        "RESHOOT_GENERATION_CONCURRENCY": "2",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield fake
    fake.stop()
    assert not fake.crashes, fake.crashes[0]


def import_work_item() -> None:
    plan = [
        {
            "shot_id": shot,
            "sku": f"SKU-{shot}",
            "size_label": label,
            "width": w,
            "height": h,
            "filename": f"fcc/lifestyle/{WORK_ITEM}/{shot}/{name}",
        }
        for shot in SHOTS
        for label, w, h, name in (("Desktop", 192, 80, "desktop.png"), ("Mobile", 75, 100, "mobile.png"))
    ]
    shots = [{"shot_id": shot, "sku": f"SKU-{shot}", "prompt": f"fault scene {shot}"} for shot in SHOTS]
    import_data(
        {
            "workItems": [
                {
                    "id": WORK_ITEM,
                    "title": "Faults",
                    "status": "open",
                    "lifestylePack": {"version": "v2", "shots": shots, "exportPlan": plan},
                }
            ]
        }
    )


def wait_until(condition, timeout=30.0, message="condition"):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {message}"
        time.sleep(0.05)
    return found


def services_process(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "services", *args],
        cwd=PROJECT_ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def finish_with_retries(job_id: str) -> None:
    """The job ends by itself (no job stuck); a retry of what a dead worker left makes exactly the missing shots."""
    # wait_for_job starts threads here if no worker is left (what a restarted dashboard does): shots still
    # queued run then; those the dead worker was generating were failed as soon as anyone read the job.
    job = jobs.wait_for_job(job_id, timeout=60)
    assert job.status in FINISHED_STATUSES, job
    missing = [f["shot_id"] for f in (job.result or {}).get("failed") or []]
    assert {f["error"] for f in (job.result or {}).get("failed") or []} <= {"WORKER_DIED"}, job
    if job.status == "failed" or missing:
        retried = jobs.retry_job(job_id)
        done = jobs.wait_for_job(retried.id, timeout=60)
        assert done.status == "succeeded", done
        if missing and job.result["generated"]:
            assert retried.params["shotIds"] == missing
            assert sorted({g["shot_id"] for g in done.result["generated"]}) == sorted(missing)


def assert_consistent() -> None:
    assert jobs.list_jobs(status="queued") == [] and jobs.list_jobs(status="running") == []
    with session_scope() as s:
        assert s.exec(select(GenerationClaim).where(col(GenerationClaim.status).in_(ACTIVE_STATUSES))).all() == []
    gc = subprocess.run(
        [sys.executable, "-m", "services", "gc", "--grace", "0"],
        cwd=PROJECT_ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert gc.returncode == 0, gc.stderr
    assert sweeper.find_orphans(grace_seconds=0) == ([], 0)
    storage = get_storage()
    with session_scope() as s:
        pairs = s.exec(
            select(ExportPlanRow, ImageVersion)
            .join(ImageVersion, col(ImageVersion.id) == ExportPlanRow.current_version_id)
            .where(ExportPlanRow.work_item_id == WORK_ITEM)
        ).all()
    assert len(pairs) == 2 * len(SHOTS)
    for row, version in pairs:
        assert versions.served_key(row.filename) == version.storage_key
        assert storage.get(row.filename) == storage.get(version.storage_key), row.filename


@pytest.fixture
def postgres_and_redis(postgres_url, monkeypatch):
    import redis

    client = redis.Redis.from_url(REDIS)
    try:
        client.ping()
    except redis.ConnectionError as e:
        pytest.skip(f"Redis at {REDIS} is unreachable: {e}")
    queue = f"reshoot-test-{secrets.token_hex(4)}"
    monkeypatch.setenv("RESHOOT_DATABASE_URL", postgres_url)
    monkeypatch.setenv("RESHOOT_QUEUE_URL", f"{REDIS}?queue={queue}")
    get_settings.cache_clear()
    from services.db import migrate

    migrate()
    yield
    for key in client.scan_iter(f"*{queue}*"):
        client.delete(key)


def test_kill_9_workers_mid_job_on_postgresql_and_redis(postgres_and_redis, slow_openai):
    import_work_item()
    workers = [services_process("worker") for _ in range(2)]
    try:
        for _ in range(2):
            wait_until(lambda: len(jobs.list_workers()) == len(workers), timeout=60, message="the workers to register")
            job_id = lifestyle.start_heroes_job(
                work_item_id=WORK_ITEM, options=lifestyle.GenerateHeroesOptions(overwrite=True)
            ).job_id
            wait_until(lambda job_id=job_id: jobs.get_job(job_id).progress_done >= 2, message="the job to be under way")
            generating = {int(w.id.split(":")[1]) for w in jobs.list_workers() if w.running}
            victim = next((p for p in workers if p.pid in generating), workers[0])  # one in the middle of a shot
            kill(victim)
            workers.remove(victim)
            workers.append(services_process("worker"))  # the operator starts another
            finish_with_retries(job_id)
    finally:
        for p in workers:
            p.terminate()
        for p in workers:
            p.wait(timeout=30)
    assert_consistent()
    jobs.stop_embedded_worker()  # before the fixture drops the database


def test_kill_9_an_embedded_worker_mid_job(db, slow_openai):
    import_work_item()
    for _ in range(2):
        cli = services_process("generate-heroes", WORK_ITEM, "--overwrite", "--wait")
        try:
            job = wait_until(
                lambda: next((j for j in jobs.list_jobs(status="running") if j.progress_done >= 2), None),
                message="the CLI's own job threads mid-job",
            )
        finally:
            kill(cli)
        assert not jobs.consumer_alive()
        finish_with_retries(job.id)  # reading the job notices its worker died; the retry runs in this process
        jobs.stop_embedded_worker()
    assert_consistent()
