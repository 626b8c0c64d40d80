"""The FastAPI application: the seeds' HTTP endpoints over the same `services` the dashboard uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from services.api import assets
from services.api.errors import install_error_handlers
from services.config import get_settings


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    from services.db import migrate

    migrate()
    yield


def create_app() -> FastAPI:
    """A new app reading the current settings (CORS origins are fixed when it is built)."""
    app = FastAPI(
        title="Reshoot API",
        version="1.0.0",
        description="The source documents' endpoints: lifestyle heroes, references, storyboard sentences, jobs.",
        lifespan=_lifespan,
    )
    install_error_handlers(app)
    origins = get_settings().api_cors_origins
    if origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=origins, allow_methods=["*"], allow_headers=["*"], expose_headers=["Location"]
        )
    app.include_router(assets.router)
    return app
