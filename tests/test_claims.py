"""One generation per shot (or sentence) at a time, whatever the requests; dead workers; global backend leases."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlmodel import select

from services import jobs, lifestyle, storyboard, versions
from services.config import PROJECT_ROOT, get_settings
from services.db import session_scope
from services.errors import ReshootError
from services.models import BackendLease, ExportPlanRow, GenerationClaim, Shot, WorkerProcess, utcnow

SHOT_SETS = (["OL-1"], None, ["OL-1", "OL-2"])  # one shot, every shot, two shots


def shot_of_prompt(work_item_id: str) -> dict[str, str]:
    with session_scope() as s:
        return {
            shot.prompt.strip(): shot.shot_id for shot in s.exec(select(Shot).where(Shot.work_item_id == work_item_id))
        }


def at_once(calls):
    """Run the calls in threads released together; their answers in call order."""
    barrier, answers = threading.Barrier(len(calls)), [None] * len(calls)

    def run(i, call):
        barrier.wait()
        answers[i] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def generate_concurrently_and_count(fake_backend) -> None:
    fake_backend.delay = 0.6  # long enough for every request to find the others' work running
    jobs.start_embedded_worker()
    started = at_once(
        [
            lambda ids=ids: lifestyle.start_heroes_job(
                work_item_id="7", options=lifestyle.GenerateHeroesOptions(shot_ids=ids, overwrite=True)
            )
            for ids in SHOT_SETS
        ]
    )
    finished = [jobs.wait_for_job(s.job_id, timeout=60) for s in started]
    assert [job.status for job in finished] == ["succeeded"] * 3, finished

    prompts = shot_of_prompt("7")
    per_shot = Counter(prompts[call["prompt"]] for call in fake_backend.calls)
    assert per_shot == {"OL-1": 1, "OL-2": 1, "OL-3": 1, "OL-4": 1}  # one generation of each shot, not two or three

    # Every request's result lists its shots as generated (by it or by the job it joined), in the spec's shape.
    for ids, job, start in zip(SHOT_SETS, finished, started, strict=True):
        wanted = ids or ["OL-1", "OL-2", "OL-3", "OL-4"]
        assert [g["shot_id"] for g in job.result["generated"]] == [shot for shot in wanted for _ in range(3)]
        assert job.joined == start.model_dump(mode="json")["joined"]
        assert all(j["jobId"] in {s.job_id for s in started} - {start.job_id} for j in job.joined)
        named = ", ".join(j["shot_id"] for j in job.joined)
        assert (f"already being generated were joined ({named})" in start.message) == bool(job.joined), start.message
    joined = Counter(j["shot_id"] for job in finished for j in job.joined)
    assert joined == {"OL-1": 2, "OL-2": 1}  # OL-1 was asked three times and made once; OL-2 twice, made once
    with session_scope() as s:
        rows = s.exec(select(ExportPlanRow).where(ExportPlanRow.work_item_id == "7")).all()
    for row in rows:
        assert len(versions.list_versions("hero", row.id)) == 1  # one new version per target

    # After that generation ended, a request for OL-1 generates it again.
    again = jobs.wait_for_job(
        lifestyle.start_heroes_job(
            work_item_id="7", options=lifestyle.GenerateHeroesOptions(shot_ids=["OL-1"], overwrite=True)
        ).job_id,
        timeout=60,
    )
    assert again.status == "succeeded" and again.joined == []
    assert len(fake_backend.calls) == 5


def test_three_shot_sets_at_once_generate_each_shot_once_on_sqlite(demo, fake_backend):
    generate_concurrently_and_count(fake_backend)


def test_three_shot_sets_at_once_generate_each_shot_once_on_postgresql(postgres_url, monkeypatch, fake_backend):
    from services.db import migrate
    from services.demo import load_demo

    monkeypatch.setenv("RESHOOT_DATABASE_URL", postgres_url)
    get_settings.cache_clear()
    migrate()
    load_demo(generate_images=False)
    try:
        generate_concurrently_and_count(fake_backend)
    finally:
        jobs.stop_embedded_worker()  # before the fixture drops the database


def test_the_database_refuses_a_second_active_claim_for_a_shot(demo):
    from sqlalchemy.exc import IntegrityError

    started = lifestyle.start_heroes_job(
        work_item_id="7", options=lifestyle.GenerateHeroesOptions(shot_ids=["OL-1"], overwrite=True)
    )
    with pytest.raises(IntegrityError), session_scope() as s:
        s.add(GenerationClaim(job_id=started.job_id, kind="lifestyle_heroes", target_key="hero:7:OL-1", subject="OL-1"))


def test_a_request_whose_shots_are_all_being_generated_waits_for_that_work(demo, fake_backend):
    fake_backend.delay = 0.3
    every = lifestyle.start_heroes_job(work_item_id="7", options=lifestyle.GenerateHeroesOptions(overwrite=True))
    one = lifestyle.start_heroes_job(
        work_item_id="7", options=lifestyle.GenerateHeroesOptions(shot_ids=["OL-3"], overwrite=True)
    )
    assert one.job_id != every.job_id and one.model_dump(mode="json")["joined"] == [
        {"shot_id": "OL-3", "jobId": every.job_id}
    ]
    assert "joined (OL-3)" in one.message
    done = jobs.wait_for_job(one.job_id, timeout=60)
    assert done.status == "succeeded" and [g["shot_id"] for g in done.result["generated"]] == ["OL-3"] * 3
    assert done.message.endswith("OL-3 joined the generation another job had started (one new version each).")
    assert set(done.result) == {
        "ok",
        "workItemId",
        "dryRun",
        "overwrite",
        "generated",
        "skippedExisting",
        "missingShots",
        "failed",
    }
    assert jobs.wait_for_job(every.job_id, timeout=60).status == "succeeded"
    assert len(fake_backend.calls) == 4


def test_storyboard_a_different_seed_while_one_runs_is_409_the_same_request_gets_the_job(demo, fake_backend):
    fake_backend.delay = 0.5
    first = storyboard.regenerate_sentence_image(
        sentence_id="sent_001", options=storyboard.RegenerateImageOptions(seed=4294967296)
    )
    assert (
        storyboard.regenerate_sentence_image(
            sentence_id="sent_001", options=storyboard.RegenerateImageOptions(seed=4294967296)
        ).job_id
        == first.job_id
    )
    assert storyboard.regenerate_sentence_image(sentence_id="sent_001").job_id == first.job_id  # any seed: join
    with pytest.raises(ReshootError) as e:
        storyboard.regenerate_sentence_image(
            sentence_id="sent_001", options=storyboard.RegenerateImageOptions(seed=9223372036854775807)
        )
    assert (e.value.status, e.value.code) == (409, "ALREADY_GENERATING")
    assert e.value.details == {"jobId": first.job_id, "seed": 4294967296}
    assert jobs.wait_for_job(first.job_id, timeout=30).status == "succeeded"
    assert len(fake_backend.calls) == 1
    later = storyboard.regenerate_sentence_image(
        sentence_id="sent_001", options=storyboard.RegenerateImageOptions(seed=9223372036854775807)
    )  # it ended: the new seed runs
    assert jobs.wait_for_job(later.job_id, timeout=30).result["seed"] == 9223372036854775807


SLOW_WORKER = """
import sys, time, pathlib
from services import backends
from services.backends.local import LocalBackend

class Slow(LocalBackend):
    def generate(self, prompt, **kwargs):
        if sys.argv[2] in prompt:
            pathlib.Path(sys.argv[1]).write_text("started")
            time.sleep(120)
        return super().generate(prompt, **kwargs)

backends.get_backend = lambda name=None: Slow()
from services.cli import main
raise SystemExit(main(["worker"]))
"""


def start_slow_worker(marker, slow_prompt: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", SLOW_WORKER, str(marker), slow_prompt],
        cwd=PROJECT_ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_until(condition, timeout=30.0, message="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {message}"
        time.sleep(0.05)


def small_work_item() -> str:
    from services.importer import import_data

    plan = [
        {
            "shot_id": f"S-{n}",
            "sku": f"SKU-{n}",
            "size_label": "Desktop",
            "width": 96,
            "height": 40,
            "filename": f"fcc/lifestyle/s1/S-{n}/desktop.png",
        }
        for n in (1, 2, 3)
    ]
    shots = [{"shot_id": f"S-{n}", "sku": f"SKU-{n}", "prompt": f"small scene {n}"} for n in (1, 2, 3)]
    import_data(
        {
            "workItems": [
                {
                    "id": "s1",
                    "title": "Small",
                    "status": "open",
                    "lifestylePack": {"version": "v2", "shots": shots, "exportPlan": plan},
                }
            ]
        }
    )
    return "s1"


def test_a_dead_workers_shot_is_failed_without_any_live_worker_and_retry_makes_only_that_shot(
    demo, tmp_path, fake_backend
):
    work_item = small_work_item()
    marker = tmp_path / "started"
    worker = start_slow_worker(marker, "small scene 2")
    try:
        wait_until(jobs.consumer_alive, message="the worker to register")
        job_id = lifestyle.start_heroes_job(work_item_id=work_item).job_id
        wait_until(marker.exists, message="the worker to start on S-2")
        wait_until(lambda: jobs.get_job(job_id).progress_done == 2, message="S-1 and S-3 to finish")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)

    assert not jobs.consumer_alive()
    # No consumer is alive anywhere; listing the jobs (the Jobs page) is enough to notice its worker died.
    wait_until(
        lambda: jobs.list_jobs(status="running") == [], timeout=3, message="the Jobs list to stop showing it running"
    )
    dead = jobs.get_job(job_id)
    assert dead.status == "succeeded", dead  # two of three shots were made
    assert dead.result["failed"] == [
        {"shot_id": "S-2", "error": "WORKER_DIED", "message": jobs.WORKER_DIED_UNIT_MESSAGE}
    ]
    assert [g["shot_id"] for g in dead.result["generated"]] == ["S-1", "S-3"]
    with session_scope() as s:
        [row] = s.exec(select(WorkerProcess)).all()
        assert row.stopped_at is not None  # the dead worker is marked stopped

    retried = jobs.retry_job(job_id)
    assert retried.params["shotIds"] == ["S-2"]
    done = jobs.wait_for_job(retried.id, timeout=30)
    assert done.status == "succeeded" and [g["shot_id"] for g in done.result["generated"]] == ["S-2"]
    assert [c["prompt"] for c in fake_backend.calls] == ["small scene 2"]  # only the missing shot


def test_the_next_request_for_a_dead_workers_sentence_starts_a_new_job(demo, tmp_path):
    marker = tmp_path / "started"
    worker = start_slow_worker(marker, "")
    try:
        job_id = storyboard.regenerate_sentence_image(
            sentence_id="sent_001", options=storyboard.RegenerateImageOptions(seed=2)
        ).job_id
        wait_until(marker.exists, message="the worker to start generating")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    fresh = storyboard.regenerate_sentence_image(
        sentence_id="sent_001", options=storyboard.RegenerateImageOptions(seed=2)
    )
    assert fresh.job_id != job_id
    dead = jobs.get_job(job_id)
    assert (dead.status, dead.error_code, dead.message) == ("failed", "WORKER_DIED", jobs.WORKER_DIED_MESSAGE)
    assert jobs.wait_for_job(fresh.job_id, timeout=30).status == "succeeded"


def test_a_dead_workers_backend_lease_is_free_at_once(db, monkeypatch):
    monkeypatch.setenv("RESHOOT_BACKEND_CONCURRENCY", "2")
    get_settings.cache_clear()
    with jobs.backend_slot():  # makes the two slot rows
        pass
    later = utcnow() + timedelta(minutes=5)
    with session_scope() as s:
        assert [(lease.slot, lease.holder) for lease in s.exec(select(BackendLease).order_by(BackendLease.slot))] == [
            (0, None),
            (1, None),
        ]
        s.add(
            WorkerProcess(
                id="elsewhere:1:dead",
                queue="x",
                host="elsewhere",
                pid=1,
                heartbeat_at=utcnow() - timedelta(minutes=5),
            )
        )
        for slot, holder in ((0, "elsewhere:1:dead/abcd"), (1, "elsewhere:2:busy/abcd")):
            lease = s.get(BackendLease, slot)
            lease.holder, lease.expires_at = holder, later
            s.add(lease)
    jobs.recovery._mark_dead({"elsewhere:1:dead"}, utcnow())
    # the dead worker's slot is free at once, the live one's stays taken
    with jobs.backend_slot(), session_scope() as s:
        assert s.get(BackendLease, 0).holder.startswith(f"{jobs.workers._HOST}:{os.getpid()}:")
        assert s.get(BackendLease, 1).holder == "elsewhere:2:busy/abcd"


@pytest.mark.parametrize(
    "queue_url, setting, expected",
    [
        ("sqlite:///q.db", None, True),
        ("redis://127.0.0.1:6379/0", None, False),
        ("redis://127.0.0.1:6379/0", "1", True),
        ("sqlite:///q.db", "0", False),
    ],
)
def test_embedded_workers_default_on_with_sqlite_only_and_follow_the_setting(monkeypatch, queue_url, setting, expected):
    monkeypatch.setenv("RESHOOT_QUEUE_URL", queue_url)
    if setting is not None:
        monkeypatch.setenv("RESHOOT_EMBEDDED_WORKERS", setting)
    get_settings.cache_clear()
    assert jobs.embedded_workers_enabled() is expected


def test_with_embedded_workers_off_nothing_runs_here_and_workers_are_listed(demo, monkeypatch, fake_backend):
    monkeypatch.setenv("RESHOOT_EMBEDDED_WORKERS", "0")
    get_settings.cache_clear()
    assert jobs.start_embedded_workers_if_enabled() is None
    job_id = storyboard.regenerate_sentence_image(sentence_id="sent_001").job_id
    assert jobs.wait_for_job(job_id, timeout=1.5).status == "queued"  # waits for a dedicated worker
    assert not jobs.consumer_alive() and jobs.list_workers() == []

    fake_backend.delay = 1.0
    worker_id = jobs.start_embedded_worker()  # what a dedicated worker does
    wait_until(lambda: jobs.list_workers() and jobs.list_workers()[0].running, message="the worker to run the claim")
    [worker] = jobs.list_workers()
    assert worker.id == worker_id and worker.model_dump(mode="json")["running"] == [
        {
            "jobId": job_id,
            "target": "sentence:sent_001",
            "startedAt": worker.model_dump(mode="json")["running"][0]["startedAt"],
        }
    ]
    assert jobs.wait_for_job(job_id, timeout=30).status == "succeeded"


@pytest.mark.parametrize("queue", ["sqlite", "redis"])
def test_one_shot_asked_for_later_goes_ahead_of_a_big_jobs_queued_shots(demo, fake_backend, monkeypatch, queue):
    from services.importer import import_data

    if queue == "redis":
        import redis

        try:
            redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
        except redis.ConnectionError as e:
            pytest.skip(f"Redis is unreachable: {e}")
        monkeypatch.setenv(
            "RESHOOT_QUEUE_URL", f"redis://127.0.0.1:6379/0?queue=reshoot-test-{os.getpid()}-{time.time_ns()}"
        )
    monkeypatch.setenv("RESHOOT_GENERATION_CONCURRENCY", "1")
    get_settings.cache_clear()
    plan = [
        {
            "shot_id": f"B-{n}",
            "sku": f"SKU-B{n}",
            "size_label": "Desktop",
            "width": 96,
            "height": 40,
            "filename": f"fcc/lifestyle/big/B-{n}/desktop.png",
        }
        for n in range(1, 9)
    ]
    shots = [{"shot_id": f"B-{n}", "sku": f"SKU-B{n}", "prompt": f"big scene {n}"} for n in range(1, 9)]
    import_data(
        {
            "workItems": [
                {
                    "id": "big",
                    "title": "Big",
                    "status": "open",
                    "lifestylePack": {"version": "v2", "shots": shots, "exportPlan": plan},
                }
            ]
        }
    )
    big = lifestyle.start_heroes_job(work_item_id="big").job_id  # eight shots queued, nobody consuming yet
    one = lifestyle.start_heroes_job(
        work_item_id="7", options=lifestyle.GenerateHeroesOptions(shot_ids=["OL-2"], overwrite=True)
    ).job_id
    jobs.start_embedded_worker()
    assert jobs.wait_for_job(one, timeout=60).status == "succeeded"
    assert jobs.wait_for_job(big, timeout=60).status == "succeeded"
    prompts = [call["prompt"] for call in fake_backend.calls]
    assert prompts.index(shot_prompt("7", "OL-2")) == 0, prompts  # the click's shot ran first
    jobs.stop_embedded_worker()


def shot_prompt(work_item_id: str, shot_id: str) -> str:
    return next(prompt for prompt, shot in shot_of_prompt(work_item_id).items() if shot == shot_id)
