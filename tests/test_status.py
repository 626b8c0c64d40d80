"""services.status: each component's state in plain words, never a stack trace."""

from __future__ import annotations

import socket

from services.config import get_settings
from services.jobs import start_embedded_worker, stop_embedded_worker
from services.status import backend_status, database_status, queue_status, redact, storage_status, system_status


def _set(monkeypatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_defaults_are_reachable(db):
    by_name = {s.component: s for s in system_status()}
    assert by_name["Database"].ok and by_name["Database"].message.startswith("Connected; schema at revision")
    assert by_name["Storage"].model_dump(mode="json") == {
        "component": "Storage",
        "inUse": get_settings().storage_url,
        "ok": True,
        "message": "Readable and writable",
    }
    assert by_name["Image backend"].ok and by_name["Image backend"].in_use.startswith("local")


def test_queue_says_whether_a_worker_consumes(db):
    idle = queue_status()
    assert not idle.ok and idle.message.startswith("No worker is running")
    start_embedded_worker()
    try:
        assert queue_status() == idle.model_copy(update={"ok": True, "message": "A worker is consuming jobs"})
    finally:
        stop_embedded_worker()


def test_unreachable_database_and_storage(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    _set(
        monkeypatch,
        RESHOOT_DATABASE_URL=f"postgresql+psycopg://u:secret@127.0.0.1:{_closed_port()}/x",
        RESHOOT_STORAGE_URL=f"file://{blocker}",
    )
    database = database_status()
    assert not database.ok and database.message.startswith("Cannot open the database postgresql+psycopg://u:***@")
    assert database.message.endswith("Check RESHOOT_DATABASE_URL (and that the server runs).")
    assert "secret" not in database.in_use and ":***@" in database.in_use
    storage = storage_status()
    assert not storage.ok and storage.message.startswith(f"Cannot use {blocker} as the storage directory")
    assert "RESHOOT_STORAGE_URL" in storage.message


def test_backend_problems_are_plain_sentences(monkeypatch):
    _set(monkeypatch, RESHOOT_IMAGE_BACKEND="openai")
    assert backend_status().message.startswith("The OpenAI backend needs an API key: set OPENAI_API_KEY")
    _set(monkeypatch, OPENAI_API_KEY="sk-test", RESHOOT_OPENAI_BASE_URL=f"http://127.0.0.1:{_closed_port()}/v1")
    unreachable = backend_status()
    assert not unreachable.ok and unreachable.message.startswith("Cannot reach http://127.0.0.1:")
    _set(monkeypatch, RESHOOT_IMAGE_BACKEND="comfyui")
    assert "RESHOOT_COMFYUI_URL" in backend_status().message
    _set(monkeypatch, RESHOOT_COMFYUI_URL=f"http://127.0.0.1:{_closed_port()}")
    assert backend_status().message.endswith(": the connection failed")
    _set(monkeypatch, RESHOOT_IMAGE_BACKEND="dalle")
    assert backend_status().model_dump(mode="json") == {
        "component": "Image backend",
        "inUse": "dalle",
        "ok": False,
        "message": "Unknown image backend 'dalle': choose one of local, openai, comfyui (RESHOOT_IMAGE_BACKEND).",
    }


def test_comfyui_that_answers(monkeypatch, fake_comfyui):
    _set(monkeypatch, RESHOOT_IMAGE_BACKEND="comfyui")
    status = backend_status()
    assert status.ok and status.message == f"ComfyUI at {fake_comfyui.url} answers"


def test_redact():
    assert redact("redis://:pw@cache:6379/0") == "redis://:***@cache:6379/0"
    assert redact("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
