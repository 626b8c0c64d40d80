"""Storyboard projects and sentences (spec 002): prompt edits and single-image regeneration."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services import storyboard
from services.api.bodies import json_body, json_body_doc
from services.api.schemas import (
    TOO_LARGE,
    DemoProjectId,
    DemoSentenceId,
    ProjectList,
    RegenerateImageRequest,
    SentenceOut,
    StoryboardOut,
    UpdateSentenceRequest,
    error_responses,
)
from services.api.security import allow
from services.identity import Role
from services.read_models.storyboard import ImageJobStarted

router = APIRouter(prefix="/api/v1", tags=["storyboard"], dependencies=[allow(Role.viewer)])

NOT_FOUND = {404: "`Sentence not found`"}


@router.get("/projects", response_model=ProjectList, responses=error_responses({}))
def list_projects() -> ProjectList:
    """Storyboard projects."""
    return ProjectList(projects=storyboard.list_projects())


@router.get(
    "/projects/{project_id}", response_model=StoryboardOut, responses=error_responses({404: "PROJECT_NOT_FOUND"})
)
def get_project(project_id: DemoProjectId) -> StoryboardOut:
    """A storyboard: cast, sections and their sentences."""
    return StoryboardOut.model_validate(storyboard.get_storyboard(project_id), from_attributes=True)


@router.get("/sentences/{sentence_id}", response_model=SentenceOut, responses=error_responses(NOT_FOUND))
def get_sentence(sentence_id: DemoSentenceId) -> SentenceOut:
    """One sentence (camelCase, as the spec writes it)."""
    return SentenceOut.model_validate(storyboard.get_sentence(sentence_id), from_attributes=True)


@router.put(
    "/sentences/{sentence_id}",
    response_model=SentenceOut,
    responses=error_responses({400: "INVALID_REQUEST, with details", **NOT_FOUND, **TOO_LARGE}),
    openapi_extra=json_body_doc(UpdateSentenceRequest, required=True),
    dependencies=[allow(Role.reviewer)],
)
def update_sentence(
    sentence_id: DemoSentenceId, body: UpdateSentenceRequest = json_body(UpdateSentenceRequest)
) -> SentenceOut:
    """Save the image prompt; editing it always marks both the image and the video dirty."""
    updated = storyboard.update_sentence(sentence_id=sentence_id, options=body)
    return SentenceOut.model_validate(updated, from_attributes=True)


@router.post(
    "/sentences/{sentence_id}/regenerate-image",
    status_code=202,
    response_model=ImageJobStarted,
    responses=error_responses(
        {
            400: "`No image prompt to generate from`, or INVALID_REQUEST",
            **NOT_FOUND,
            **TOO_LARGE,
            409: "ALREADY_GENERATING: an image with another seed is being generated; `details.jobId` is that job",
        }
    ),
    openapi_extra=json_body_doc(RegenerateImageRequest, required=False),
    dependencies=[allow(Role.reviewer)],
)
def regenerate_image(
    sentence_id: str, body: RegenerateImageRequest = json_body(RegenerateImageRequest)
) -> JSONResponse:
    """Queue a new image (random seed when none is given); completion arrives on the project's WebSocket.
    Takes the body with any Content-Type, or none at all, as the spec's client sends it."""
    started = storyboard.regenerate_sentence_image(sentence_id=sentence_id, options=body)
    return JSONResponse(
        started.model_dump(mode="json"), status_code=202, headers={"Location": f"/api/v1/jobs/{started.job_id}"}
    )
