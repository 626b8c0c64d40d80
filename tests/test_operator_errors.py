"""Starts are safe and wrong settings are plain: concurrent `init`s on an empty database, and one sentence naming
the variable (CLI, Settings, every page) instead of a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from services import cli
from services.config import get_settings
from services.db import alembic_config, engine_for
from tests.servers import PROJECT_ROOT, free_port


def init_processes(url: str, count: int) -> list[subprocess.CompletedProcess]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESHOOT_")}
    env |= {"RESHOOT_DATA_DIR": str(get_settings().data_dir), "RESHOOT_DATABASE_URL": url}
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "services", "init"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(count)
    ]
    return [subprocess.CompletedProcess(p.args, p.wait(120), *p.communicate()) for p in started]


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_concurrent_inits_on_an_empty_database_all_succeed(kind, request, data_dir):
    url = request.getfixturevalue("postgres_url") if kind == "postgresql" else f"sqlite:///{data_dir / 'fresh.db'}"
    results = init_processes(url, 4)
    assert [r.returncode for r in results] == [0, 0, 0, 0], [r.stderr.decode()[-1500:] for r in results]
    with engine_for(url).connect() as conn:
        assert (
            MigrationContext.configure(conn).get_current_revision()
            == ScriptDirectory.from_config(alembic_config(url)).get_current_head()
        )


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_names_the_variable_for_an_unreachable_database(monkeypatch, capsys):
    monkeypatch.setenv(
        "RESHOOT_DATABASE_URL", f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing?connect_timeout=2"
    )
    get_settings.cache_clear()
    code, out, err = run_cli(capsys, "work-items")
    assert code == 1 and '"DATABASE_UNAVAILABLE"' in out
    assert "RESHOOT_DATABASE_URL" in err and "Traceback" not in err


def test_cli_names_the_variable_for_a_malformed_database_url(monkeypatch, capsys):
    monkeypatch.setenv("RESHOOT_DATABASE_URL", "postgres//oops")
    get_settings.cache_clear()
    code, _, err = run_cli(capsys, "init")
    assert code == 1 and "RESHOOT_DATABASE_URL" in err


def test_cli_names_the_variable_for_an_unreachable_queue(demo, monkeypatch, capsys):
    monkeypatch.setenv("RESHOOT_QUEUE_URL", f"redis://127.0.0.1:{free_port()}/0")
    get_settings.cache_clear()
    code, _out, err = run_cli(capsys, "generate-heroes", "7")
    assert code == 1 and "RESHOOT_QUEUE_URL" in err and "Traceback" not in err


def test_cli_names_the_variable_for_a_bad_storage_url(db, monkeypatch, capsys):
    monkeypatch.setenv("RESHOOT_STORAGE_URL", "ftp://somewhere/media")
    get_settings.cache_clear()
    code, out, err = run_cli(capsys, "gc")
    assert code == 1 and '"STORAGE_UNAVAILABLE"' in out and "RESHOOT_STORAGE_URL" in err


@pytest.fixture
def s3_without_credentials(s3_env, monkeypatch, tmp_path):
    from services import storage

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
        monkeypatch.setenv(name, str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    get_settings.cache_clear()
    storage._cached_storage.cache_clear()
    yield
    storage._cached_storage.cache_clear()


def test_pages_say_which_variable_is_missing_instead_of_a_traceback(s3_without_credentials, db):
    from tests.pages.conftest import open_page, texts

    at = open_page()  # the first start probes storage before loading the demo set in the background
    assert not at.exception
    shown = texts(at).replace("\\", "")  # markdown-escaped underscores
    assert "needs credentials: set AWS_ACCESS_KEY_ID" in shown and "NoCredentialsError" not in shown
    settings = open_page("pages/settings.py")
    assert not settings.exception
    assert "needs credentials: set AWS_ACCESS_KEY_ID" in texts(settings).replace("\\", "")


def test_an_unreachable_redis_queue_is_said_by_the_worker_and_on_every_page(db, monkeypatch, capsys):
    from tests.pages.conftest import open_page, texts

    monkeypatch.setenv("RESHOOT_QUEUE_URL", f"redis://127.0.0.1:{free_port()}/0")
    get_settings.cache_clear()
    code, out, err = run_cli(capsys, "worker")
    assert code == 1 and '"QUEUE_UNAVAILABLE"' in out and "RESHOOT_QUEUE_URL" in err
    at = open_page()
    assert not at.exception
    assert "Check RESHOOT_QUEUE_URL" in texts(at).replace("\\", "")


def test_a_wrong_setting_that_stops_the_background_demo_load_is_kept_for_the_pages(db, monkeypatch):
    from services import demo
    from services.storage import StorageUnavailable

    def fail():
        raise StorageUnavailable("S3 bucket x refused the credentials: check AWS_ACCESS_KEY_ID.")

    monkeypatch.setattr(demo, "ensure_demo_loaded", fail)
    demo._load_in_background()
    assert demo.demo_load_failure().message.endswith("check AWS_ACCESS_KEY_ID.")
    monkeypatch.setattr(demo, "ensure_demo_loaded", lambda: None)
    demo._load_in_background()
    assert demo.demo_load_failure() is None  # a later load that works clears it
