"""Every test gets its own data dir (SQLite database, media, queue) and default offline settings."""

from __future__ import annotations

import pytest

from services.config import get_settings

RESHOOT_VARIABLES = (
    "RESHOOT_DATABASE_URL",
    "RESHOOT_STORAGE_URL",
    "RESHOOT_S3_ENDPOINT_URL",
    "RESHOOT_QUEUE_URL",
    "RESHOOT_IMAGE_BACKEND",
    "OPENAI_API_KEY",
    "RESHOOT_OPENAI_MODEL",
    "RESHOOT_OPENAI_BASE_URL",
    "RESHOOT_COMFYUI_URL",
    "RESHOOT_COMFYUI_WORKFLOW",
    "RESHOOT_GENERATION_CONCURRENCY",
    "RESHOOT_KEEP_VERSIONS",
)


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    """A fresh data dir with offline defaults; settings are re-read for each test."""
    path = tmp_path / "data"
    monkeypatch.setenv("RESHOOT_DATA_DIR", str(path))
    for name in RESHOOT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


@pytest.fixture
def db(data_dir):
    """A migrated database in the test's data dir."""
    from services.db import get_engine, migrate

    migrate()
    return get_engine()
