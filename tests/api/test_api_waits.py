"""Generate requests wait for their job without holding server threads; failed jobs answer meaningful statuses."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from services import backends
from services.api.waits import failed_job_error
from services.jobs import job_public
from services.models import Job

WAITERS = 50  # more than the server's thread pool (40): waits that held a thread would starve every other request


def test_an_unrelated_get_answers_while_50_generate_requests_wait(client, demo, fake_backend):
    released = threading.Event()

    def hold_until_released(_prompt):
        released.wait(120)

    fake_backend.fail_when = hold_until_released  # the backend call blocks until the test releases it
    body = {"shotIds": ["OL-1"], "overwrite": True}
    with ThreadPoolExecutor(WAITERS + 1) as pool:  # one thread left for the unrelated GET
        waiting = [
            pool.submit(client.post, "/api/work-items/7/generate-lifestyle-heroes", json=body) for _ in range(WAITERS)
        ]
        try:
            _wait_until(lambda: client.app.state.job_waiter.waiting == WAITERS and fake_backend.calls)
            listing = pool.submit(client.get, "/api/work-items").result(timeout=60)  # answered while the job is held
            assert listing.status_code == 200 and listing.json()["total"] == 4
            assert not any(f.done() for f in waiting) and client.app.state.job_waiter.waiting == WAITERS
        finally:
            released.set()
        answers = [f.result(timeout=120) for f in waiting]
    assert {r.status_code for r in answers} == {200}
    assert all(r.json()["ok"] is True and r.json()["generated"][0]["shot_id"] == "OL-1" for r in answers)
    assert len(fake_backend.calls) == 1  # they all waited on one job
    assert client.app.state.job_waiter.waiting == 0


def _wait_until(condition, timeout: float = 60) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (backends.RateLimited("OpenAI is rate limiting this key."), 429),
        (backends.BackendUnavailable("ComfyUI at http://x is not answering."), 503),
        (backends.BackendError("OpenAI answered without an image."), 502),
    ],
)
def test_a_failed_job_answers_the_status_of_its_error(client, demo, fake_backend, error, status):
    fake_backend.fail_when = lambda _prompt: error
    r = client.post("/api/work-items/7/generate-lifestyle-heroes", json={"shotIds": ["OL-2"], "overwrite": True})
    assert r.status_code == status
    body = r.json()
    assert set(body) == {"error", "details"} and body["error"] == error.code
    assert body["details"]["message"] and body["details"]["jobId"].startswith("job_")


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("BACKEND_TIMEOUT", 504, "BACKEND_TIMEOUT"),
        ("WORKER_DIED", 503, "WORKER_DIED"),
        ("BACKEND_CONTENT_REJECTED", 422, "BACKEND_CONTENT_REJECTED"),
        ("SOMETHING_UNEXPECTED", 500, "INTERNAL_ERROR"),
        (None, 500, "INTERNAL_ERROR"),
    ],
)
def test_job_error_codes_map_to_statuses(code, status, error):
    row = Job(id="job_1", kind="sentence_image", target_key="x", status="failed", error_code=code, message="It failed.")
    failed = failed_job_error(job_public(row))
    assert (failed.status, failed.code) == (status, error)
    assert failed.to_json()["details"] == {"jobId": "job_1", "errorCode": code, "message": "It failed."}


def test_a_job_gone_while_waited_on_ends_the_wait_with_404(monkeypatch):
    """The waiter never waits forever on a job no query finds (one deleted by hand, say)."""
    import asyncio

    from services import jobs
    from services.api.waits import JobWaiter
    from services.errors import ReshootError

    monkeypatch.setattr(jobs, "get_jobs", lambda ids: {})
    monkeypatch.setattr(jobs, "consumer_alive", lambda: True)
    waiter = JobWaiter(poll_seconds=0.01)
    with pytest.raises(ReshootError) as gone:
        asyncio.run(waiter.wait("job_gone", None))
    assert (gone.value.code, gone.value.status) == ("JOB_NOT_FOUND", 404) and waiter.waiting == 0
