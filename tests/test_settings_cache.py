"""`get_settings.cache_clear()` with another thread reading the settings at that moment (a worker's heartbeat)."""

from __future__ import annotations

import threading

from services import config
from services.config import get_settings


def test_a_read_under_way_when_the_cache_is_cleared_does_not_store_stale_settings(monkeypatch):
    reading, release = threading.Event(), threading.Event()
    real = config.read_secrets  # read after the environment

    def slow_secrets():
        if threading.current_thread().name == "heartbeat":
            reading.set()
            release.wait(10)
        return real()

    monkeypatch.setattr(config, "read_secrets", slow_secrets)
    monkeypatch.setenv("RESHOOT_MAX_UPLOAD_REQUEST_MB", "200")
    get_settings.cache_clear()
    stale = []
    reader = threading.Thread(target=lambda: stale.append(get_settings()), name="heartbeat")
    reader.start()
    assert reading.wait(10)  # the reader has the old environment's value in hand
    monkeypatch.setenv("RESHOOT_MAX_UPLOAD_REQUEST_MB", "1")
    get_settings.cache_clear()
    release.set()
    reader.join(10)
    assert stale[0].max_upload_request_mb == 200  # what it read before the change
    assert get_settings().max_upload_request_mb == 1  # but it did not become the process's settings
    get_settings.cache_clear()
