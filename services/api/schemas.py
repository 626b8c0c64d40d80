"""Request and response shapes, as the spec writes them (camelCase where the spec uses it)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, Field

from services.read_models import ReadModel
from services.read_models.heroes import HeroTarget, ReferencePublic, WorkItemDetail, WorkItemPage
from services.read_models.jobs import JobPublic
from services.read_models.storyboard import ProjectPublic, SentenceFields, SentencePlacement, StoryboardPublic
from services.storyboard import RegenerateImageOptions, UpdateSentenceOptions

Timestamp = datetime | str | None


def _demo(value: str, summary: str) -> Any:
    return Path(openapi_examples={"demo": {"summary": summary, "value": value}})


# Path parameters of read-only and idempotent operations, with the demo set's ids as examples.
DemoWorkItemId = Annotated[str, _demo("7", "The demo's 4-shot work item")]
DemoProjectId = Annotated[str, _demo("coffee-origins", "The demo storyboard")]
DemoSentenceId = Annotated[str, _demo("sent_001", "A demo sentence")]


# --- requests ------------------------------------------------------------------------------------


class UpdateSentenceRequest(UpdateSentenceOptions):
    # Accepted for the spec's client; editing the prompt always sets both, so the use case does not take them.
    is_image_dirty: bool | None = None
    is_video_dirty: bool | None = None


RegenerateImageRequest = RegenerateImageOptions


# --- responses -----------------------------------------------------------------------------------


class ErrorBody(BaseModel):
    error: str
    details: Any = None


class Ok(ReadModel):
    ok: Literal[True] = True


class JobStarted(ReadModel):
    """A 202: the job still runs; no `ok` (the spec's client would read an ok body as the finished result)."""

    job_id: str
    work_item_id: str
    message: str


class Deleted(Ok):
    id: str


# A response is `ok`, then the service's read model: `class XOut(X, Ok)` has Ok's field first (pydantic takes the
# fields of the last base first).
class WorkItemPageOut(WorkItemPage, Ok):
    total_capped: bool = Field(default=False, exclude=True)  # the API counts every match (no count_limit)


class WorkItemDetailOut(WorkItemDetail, Ok):
    export_plan: list[HeroTarget]  # every shot's rows, flat


class ReferenceList(Ok):
    work_item_id: str
    shot_id: str | None
    references: list[ReferencePublic]


class SentenceOut(SentencePlacement, Ok, SentenceFields):  # `ok` after the spec's fields, as it has always been sent
    pass


class ProjectList(Ok):
    projects: list[ProjectPublic]


class StoryboardOut(StoryboardPublic, Ok):
    pass


class JobOut(JobPublic, Ok):
    pass


TOO_LARGE = {413: "PAYLOAD_TOO_LARGE"}


def error_responses(described: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the given error statuses (and 500), all with the spec's error body."""
    described = {
        400: "INVALID_REQUEST, e.g. a text with a character no database stores (NUL)",
        **described,
        500: "INTERNAL_ERROR (no stack trace)",
    }
    return {status: {"model": ErrorBody, "description": text} for status, text in described.items()}
