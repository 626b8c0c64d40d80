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
