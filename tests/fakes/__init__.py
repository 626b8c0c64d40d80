"""Fake OpenAI and ComfyUI servers on loopback, and pytest fixtures that point the settings at them.

Usage in any test (the fixtures are imported by tests/conftest.py):

    def test_x(fake_openai):                 # OPENAI_API_KEY + RESHOOT_OPENAI_BASE_URL now point at the fake
        fake_openai.fail("rate_limit", times=2, retry_after=0)
        ...                                  # get_backend("openai").generate(...)
        assert len(fake_openai.image_requests()) == 3
        fake_openai.received[-1]["model"], fake_openai.received[-1]["images"]

    def test_y(fake_comfyui):                # RESHOOT_COMFYUI_URL now points at the fake
        fake_comfyui.fail("execution_error", message="boom")
        fake_comfyui.uploads, fake_comfyui.submitted_graphs(), fake_comfyui.requests
"""

from __future__ import annotations

import pytest

from services.config import get_settings

from .comfyui_server import FakeComfyUI
from .openai_server import FakeOpenAI

__all__ = ["FakeComfyUI", "FakeOpenAI", "fake_comfyui", "fake_openai"]


def _running(fake, monkeypatch, environment: dict[str, str]):
    """Start `fake`, point the settings at it, stop it afterwards and fail on any crash inside it."""
    fake.start()
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield fake
    fake.stop()
    get_settings.cache_clear()
    assert not fake.crashes, fake.crashes[0]


@pytest.fixture
def fake_openai(monkeypatch):
    """A running FakeOpenAI; settings use its base URL and key (RESHOOT_IMAGE_BACKEND is left alone)."""
    fake = FakeOpenAI()
    yield from _running(fake, monkeypatch, {"OPENAI_API_KEY": fake.api_key, "RESHOOT_OPENAI_BASE_URL": fake.base_url})


@pytest.fixture
def fake_comfyui(monkeypatch):
    """A running FakeComfyUI; settings use its URL (RESHOOT_IMAGE_BACKEND is left alone)."""
    fake = FakeComfyUI()
    yield from _running(fake, monkeypatch, {"RESHOOT_COMFYUI_URL": fake.url})
