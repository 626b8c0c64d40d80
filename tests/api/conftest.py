"""A TestClient over a fresh app on the test's migrated data dir."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from services.api import create_app


@pytest.fixture
def app(db):
    return create_app()


@pytest.fixture
def client(app):
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def png():
    """PNG bytes of a small solid image; pass a colour for different bytes."""
    import io

    from PIL import Image

    def make(color: str = "red", size: tuple[int, int] = (32, 24)) -> bytes:
        buf = io.BytesIO()
        Image.new("RGB", size, color).save(buf, "PNG")
        return buf.getvalue()

    return make


@pytest.fixture
def failing_backend(monkeypatch):
    """Every backend call raises ContentRejected (the job fails without retries)."""
    from services import backends

    real = backends.get_backend

    def get_backend(name=None):
        backend = real(name)

        class Rejecting:
            name, model, capabilities = backend.name, backend.model, backend.capabilities

            def generate(self, prompt, **kwargs):
                raise backends.ContentRejected("Rejected by the test's content policy")

        return Rejecting()

    monkeypatch.setattr(backends, "get_backend", get_backend)


@pytest.fixture
def pg_demo(postgres_url, monkeypatch):
    """The demo set (no images) on a throwaway PostgreSQL database."""
    from services.config import get_settings
    from services.db import migrate
    from services.demo import load_demo

    monkeypatch.setenv("RESHOOT_DATABASE_URL", postgres_url)
    get_settings.cache_clear()
    migrate()
    load_demo(generate_images=False)


@pytest.fixture
def pg_client(pg_demo):
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client
