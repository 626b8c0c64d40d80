"""The FastAPI application: the spec's HTTP endpoints over the same `services` the dashboard uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

import services.job_handlers  # noqa: F401  (every job kind's handlers, for the embedded consumers)
from services.api import assets, jobs, storyboard, work_items
from services.api.errors import install_error_handlers, storable_parameters
from services.api.security import Security, redact_tokens_in_server_logs
from services.api.waits import JobWaiter
from services.config import get_settings
from services.db import migrate
from services.jobs import start_embedded_workers_if_enabled, stop_embedded_worker


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Migrate, and run job consumers in this process (as the dashboard does) so queued jobs progress."""
    migrate()
    start_embedded_workers_if_enabled()
    try:
        yield
    finally:
        stop_embedded_worker()


def create_app() -> FastAPI:
    """A new app reading the current settings (CORS origins are fixed when it is built)."""
    app = _ReshootAPI(
        title="Reshoot API",
        version="1.0.0",
        description=(
            "The source documents' endpoints: lifestyle heroes, references, storyboard sentences, jobs, assets.\n\n"
            "Every error answers JSON with a top-level `error` (and `details` where there are some).\n\n"
            "WebSocket `GET /api/v1/projects/{projectId}/events` (not listed below: OpenAPI has no WebSockets) sends "
            '`{"type": "job_complete" | "job_failed", "jobType": "image", "sentenceId", "jobId", "eventId"}` '
            "as the project's jobs finish; `?after=<eventId>` replays later events first."
        ),
        lifespan=_lifespan,
    )
    install_error_handlers(app)
    app.state.job_waiter = JobWaiter()
    origins = get_settings().api_cors_origins
    if origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=origins, allow_methods=["*"], allow_headers=["*"], expose_headers=["Location"]
        )
    app.add_middleware(Security)  # outermost: refuses cross-site requests and strangers before anything runs
    redact_tokens_in_server_logs()
    for module in (work_items, storyboard, jobs):
        app.include_router(module.router, dependencies=[Depends(storable_parameters)])
    app.include_router(assets.router)  # a storage key, checked there (INVALID_KEY), never reaches the database
    return app


class _ReshootAPI(FastAPI):
    def openapi(self) -> dict[str, Any]:
        """FastAPI documents a 422 for every operation with parameters; this API answers 400 INVALID_REQUEST
        instead."""
        schema = super().openapi()
        for operations in schema["paths"].values():
            for operation in operations.values():
                operation["responses"].pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        return schema
