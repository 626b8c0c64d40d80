"""Jobs: status by id, and the per-project WebSocket that tells clients when jobs finish (spec 002)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from services import jobs
from services.api.schemas import JobOut, error_responses
from services.api.security import allow
from services.identity import Role

router = APIRouter(prefix="/api/v1", tags=["jobs"], dependencies=[allow(Role.viewer)])

EVENT_POLL_SECONDS = 0.5


@router.get("/jobs/{job_id}", response_model=JobOut, responses=error_responses({404: "JOB_NOT_FOUND"}))
def get_job(job_id: str) -> JobOut:
    """A job's status, progress, and result or error."""
    return JobOut.model_validate(jobs.get_job(job_id))


@router.websocket("/projects/{project_id}/events")
async def project_events(
    websocket: WebSocket, project_id: str, after: Annotated[int | None, Query(ge=0)] = None
) -> None:
    """Job events of one project as they happen, e.g. {"type": "job_complete", "jobType": "image", "sentenceId", "jobId"};
    `?after=<eventId>` replays what came after that event first."""
    await websocket.accept()
    last_id = after if after is not None else await run_in_threadpool(jobs.latest_event_id, project_id=project_id)
    closed = asyncio.create_task(_wait_for_close(websocket))
    try:
        while not closed.done():
            for event in await run_in_threadpool(jobs.events_since, project_id=project_id, after_id=last_id):
                await websocket.send_json({**event.payload, "type": event.type, "eventId": event.id})
                last_id = event.id
            await asyncio.wait([closed], timeout=EVENT_POLL_SECONDS)
    except WebSocketDisconnect:
        pass
    finally:
        closed.cancel()


async def _wait_for_close(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends until it disconnects."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass
