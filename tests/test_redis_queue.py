"""RESHOOT_QUEUE_URL=redis://…: jobs run in a separate `python -m services worker` process."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time

import pytest

from services import jobs, storyboard
from services.config import PROJECT_ROOT, get_settings

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_queue(monkeypatch):
    """A queue name of this test's own on the machine's Redis; its keys are deleted afterwards."""
    import redis

    client = redis.Redis.from_url(REDIS)
    try:
        client.ping()
    except redis.ConnectionError as e:
        pytest.skip(f"Redis at {REDIS} is unreachable: {e}")
    name = f"reshoot-test-{secrets.token_hex(4)}"
    monkeypatch.setenv("RESHOOT_QUEUE_URL", f"{REDIS}?queue={name}")
    get_settings.cache_clear()
    yield name
    for key in client.scan_iter(f"*{name}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def worker_process(redis_queue, demo):
    process = subprocess.Popen(
        [sys.executable, "-m", "services", "worker"],
        cwd=PROJECT_ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not jobs.consumer_alive():
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the worker process did not register"
            time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_jobs_run_in_a_separate_worker_process_which_stops_cleanly(worker_process):
    first = storyboard.regenerate_sentence_image(
        sentence_id="sent_001", options=storyboard.RegenerateImageOptions(seed=42)
    )
    assert (
        storyboard.regenerate_sentence_image(sentence_id="sent_001").job_id == first.job_id
    )  # dedup holds across processes
    job = jobs.wait_for_job(first.job_id, timeout=30)
    assert job.status == "succeeded", job
    assert job.worker_id.split(":")[1] == str(worker_process.pid)  # not an in-process consumer
    sentence = storyboard.get_sentence("sent_001")
    assert (sentence.seed, sentence.is_image_dirty, sentence.image_file) == (
        42,
        False,
        job.result["imageFile"],
    )
    assert jobs.events_since(project_id="coffee-origins")[-1].payload["type"] == "job_complete"

    worker_process.terminate()  # SIGTERM: the worker says it stopped, so nobody waits for it
    worker_process.wait(timeout=15)
    assert not jobs.consumer_alive()
