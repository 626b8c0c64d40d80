"""What a generated shot costs the database: SQL statements and commits per shot of a generate-all job, counted on
the job's real path (claim, plan, new versions, pointers, audit, stable copies, retention, progress), run
synchronously in this thread. The counts do not depend on the machine; they must not grow with the job's size."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import event, func
from sqlmodel import col, select

from bench.fixtures import SIZES, plan_row
from bench.generate import LatencyBackend
from services.config import get_settings
from services.db import get_engine, session_scope
from services.jobs import get_job, runner, workers
from services.lifestyle import GenerateHeroesOptions, start_heroes_job
from services.models import ImageVersion

# A shot (3 sizes): claim with its plan and reference rows 3 + 4 (one transaction), version numbers 1, versions + pointers + audit 8,
# stable copies 3, end of the claim and the job's progress 3. Before batching it was 56 statements and 15 commits.
STATEMENTS_PER_SHOT = 22
COMMITS_PER_SHOT = 6  # claim with its plan, version numbers, new versions, stable copies, end of claim, progress
JOB_END_STATEMENTS = 6  # once per job: the last claim's summary (job, totals, claims), its finish and its event


def work_item(work_item_id: str, shots: int) -> None:
    """The benchmark's work item (Desktop, Tablet and Mobile a shot) at a tenth of the sizes: the counts are the
    same, the image work smaller."""
    from services.importer import import_data

    tiny = [(label, width // 10, height // 10) for label, width, height in SIZES]
    plan = [plan_row(work_item_id, s, size) for s in range(1, shots + 1) for size in tiny]
    import_data(
        {
            "workItems": [
                {"id": work_item_id, "title": "t", "status": "in_review", "lifestylePack": {"exportPlan": plan}}
            ]
        }
    )


@dataclass
class Counts:
    statements: int = 0
    commits: int = 0


class _CapturedQueue:
    """The queue as `runner._send` sees it: records the claims instead of sending them to Huey."""

    identity = "captured"

    def __init__(self) -> None:
        self.claims: list[int] = []

    def claim_task(self, claim_id: int, priority: int = 0) -> None:
        self.claims.append(claim_id)


@pytest.fixture
def captured_queue(monkeypatch):
    queue = _CapturedQueue()
    monkeypatch.setattr(workers, "_queue", lambda: queue)
    return queue


@pytest.fixture(autouse=True)
def latency_backend(monkeypatch):
    from services import backends

    backend = LatencyBackend(0.0)  # the offline render, made once per size
    monkeypatch.setattr(backends, "get_backend", lambda name=None: backend)
    return backend


def _run_job(work_item_id: str, queue: _CapturedQueue, *, overwrite: bool = False) -> Counts:
    """Generate every shot of the work item; the statements and commits of running its claims."""
    queue.claims.clear()
    job_id = start_heroes_job(work_item_id=work_item_id, options=GenerateHeroesOptions(overwrite=overwrite)).job_id
    counts, engine = Counts(), get_engine()

    def on_statement(*_args) -> None:
        counts.statements += 1

    def on_commit(*_args) -> None:
        counts.commits += 1

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_commit)
    try:
        for claim_id in list(queue.claims):
            runner.execute_claim(claim_id, "test-worker")
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "commit", on_commit)
    job = get_job(job_id)
    assert job.status == "succeeded" and job.result is not None, job
    assert len(job.result["generated"]) == 3 * len(queue.claims) and not job.result["failed"]
    assert job.progress_done == job.progress_total == 3 * len(queue.claims)
    return counts


def test_a_generated_shot_costs_a_fixed_number_of_statements_and_commits(db, captured_queue):
    work_item("four", 4)
    work_item("many", 24)
    four, many = _run_job("four", captured_queue), _run_job("many", captured_queue)
    # The same per shot at 4 and at 24 shots: nothing is read or written per job size.
    assert many.statements - four.statements == 20 * STATEMENTS_PER_SHOT
    assert many.commits - four.commits == 20 * COMMITS_PER_SHOT
    assert four.statements == 4 * STATEMENTS_PER_SHOT + JOB_END_STATEMENTS


def test_retention_runs_only_once_a_target_has_more_versions_than_it_keeps(db, captured_queue, monkeypatch):
    """Within RESHOOT_KEEP_VERSIONS nothing can be deleted, so nothing is asked; the version beyond it deletes the
    oldest file of each size (and records it), as before."""
    monkeypatch.setenv("RESHOOT_KEEP_VERSIONS", "2")
    get_settings.cache_clear()
    work_item("wi", 2)
    first = _run_job("wi", captured_queue)
    second = _run_job("wi", captured_queue, overwrite=True)
    assert _deleted_files() == 0
    third = _run_job("wi", captured_queue, overwrite=True)
    assert _deleted_files() == 6  # version 1 of each of the 2 shots' 3 sizes
    # Overwriting reads whether the current images are locked (one query per shot); the third run adds retention.
    assert second.statements == first.statements + 2
    assert third.statements > second.statements


def _deleted_files() -> int:
    with session_scope() as session:
        return session.exec(
            select(func.count()).select_from(ImageVersion).where(col(ImageVersion.file_deleted).is_(True))
        ).one()


def test_a_claim_whose_plan_cannot_be_read_fails_with_the_reason(db, captured_queue, monkeypatch):
    """The plan is read in the claim's own transaction: when planning fails after the job was queued (here: the
    pack is said to be gone), each claim still starts and ends failed with the plan's error, and the job fails."""
    from services import lifestyle
    from services.errors import ReshootError

    work_item("gone", 2)
    job_id = start_heroes_job(work_item_id="gone").job_id

    def no_pack(*_args, **_kwargs):
        raise ReshootError("LIFESTYLE_PACK_NOT_FOUND", 404, None, "Run Lifestyle Pack v2 first.")

    monkeypatch.setattr(lifestyle, "_plan", no_pack)
    for claim_id in list(captured_queue.claims):
        runner.execute_claim(claim_id, "test-worker")
    job = get_job(job_id)
    assert (job.status, job.error_code) == ("failed", "LIFESTYLE_PACK_NOT_FOUND")
    assert job.result is not None and [f["error"] for f in job.result["failed"]] == ["LIFESTYLE_PACK_NOT_FOUND"] * 2
