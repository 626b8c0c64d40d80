"""Jobs as the UI, the CLI and the API read them (`GET /api/jobs/{id}`), and the live workers Settings shows."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from services.enums import ACTIVE_STATUSES, FINISHED_STATUSES, JobKind, JobStatus
from services.read_models import ReadModel, UtcDatetime
from services.read_models.heroes import HeroesJobParams, HeroesJobResult
from services.read_models.storyboard import SentenceImageResult


class JobPublic(ReadModel):
    """A generation job. `params` (the request) and `result` (the use case's result JSON, e.g. spec 001's lifestyle
    result) are JSON whose shapes belong to the job's kind: `heroes_params()`, `image_result()` and the like read
    them as the kind's models (a kind's handlers validate their own request model)."""

    id: str
    kind: JobKind
    status: JobStatus
    progress_done: int
    progress_total: int
    message: str
    error_code: str | None
    error_detail: str | None
    result: dict[str, Any] | None
    work_item_id: str | None
    sentence_id: str | None
    project_id: str | None
    target_key: str
    params: dict[str, Any]
    # Units another job was already generating, which this job waits for: [{"shot_id" | "subject", "jobId"}].
    joined: list[dict[str, Any]]
    attempts: int
    worker_id: str | None
    requested_by: str | None
    created_at: UtcDatetime | None
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    # What the request found at enqueue time, for the kind's `summarize` (e.g. skipped and missing shots); not sent.
    plan: dict[str, Any] | None = Field(default=None, exclude=True)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    def heroes_params(self) -> HeroesJobParams | None:
        """`params` as a generate-all job's request (None: another kind)."""
        return HeroesJobParams.model_validate(self.params) if self.kind == JobKind.lifestyle_heroes else None

    def heroes_result(self) -> HeroesJobResult | None:
        """`result` as a generate-all job's (None: another kind, or no result: still running, or died early)."""
        if self.kind != JobKind.lifestyle_heroes or not self.result:
            return None
        return HeroesJobResult.model_validate(self.result)

    def image_result(self) -> SentenceImageResult | None:
        """`result` as a sentence-image job's (None: another kind, or no result)."""
        if self.kind != JobKind.sentence_image or not self.result:
            return None
        return SentenceImageResult.model_validate(self.result)


class EventPublic(ReadModel):
    """Something a job left for the UI and the API's WebSocket, e.g. `job_complete` (its payload is what is sent)."""

    id: int
    type: str
    payload: dict[str, Any]
    created_at: UtcDatetime | None


class RunningClaim(ReadModel):
    """A unit a worker generates now."""

    job_id: str
    target: str  # the claim's target key, e.g. "hero:7:OL-1"
    started_at: UtcDatetime | None


class WorkerPublic(ReadModel):
    """A live job consumer (embedded in the dashboard / API, or `python -m services worker`)."""

    id: str
    host: str
    pid: int
    embedded: bool
    concurrency: int
    started_at: UtcDatetime
    heartbeat_at: UtcDatetime
    running: list[RunningClaim]
