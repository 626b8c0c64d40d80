"""The OpenAI backend, through the real `openai` client, against the fake OpenAI server (tests/fakes)."""

from __future__ import annotations

import io
import socket
import threading
import time

import openai
import pytest
from PIL import Image

from services.backends import (
    BackendError,
    BackendMisconfigured,
    BackendTimeout,
    BackendUnavailable,
    ContentRejected,
    RateLimited,
    call_with_retries,
    get_backend,
)
from services.backends.openai_backend import OpenAIBackend
from services.config import get_settings


def _image(fmt: str, colour=(255, 0, 0), size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format=fmt)
    return out.getvalue()


def _backend(**overrides) -> OpenAIBackend:
    return OpenAIBackend.from_settings(get_settings(), **({"backoff": 0.001} | overrides))


def _generate(backend=None, **overrides) -> bytes:
    args = {"prompt": "A reading nook by a window", "width": 1920, "height": 800, "seed": 7, "references": []}
    args |= overrides
    return (backend or _backend()).generate(args.pop("prompt"), **args)


def test_generate_asks_for_the_nearest_size_with_the_configured_model(fake_openai, monkeypatch):
    fake_openai.models = ("gpt-image-1", "gpt-image-1-mini")
    monkeypatch.setenv("RESHOOT_OPENAI_MODEL", "gpt-image-1-mini")
    get_settings.cache_clear()
    backend = get_backend("openai")
    assert (backend.name, backend.model) == ("openai", "gpt-image-1-mini")
    assert backend.capabilities.honours_seed is False
    progress = []
    data = _generate(backend, progress=lambda fraction, message: progress.append(fraction))
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == (1536, 1024)
    [request] = fake_openai.image_requests()
    assert request.path == "/v1/images/generations"
    assert fake_openai.received == [
        {"model": "gpt-image-1-mini", "prompt": "A reading nook by a window", "size": "1536x1024", "n": 1}
    ]
    assert progress[-1] == 1.0


def test_calls_share_one_client_per_configuration(fake_openai, monkeypatch):
    """Building a client costs ~25 ms of CPU (its TLS context): the backends of every shot and thread share one."""
    built = []
    client_class = openai.OpenAI
    monkeypatch.setattr(openai, "OpenAI", lambda **options: built.append(options) or client_class(**options))
    threads = [threading.Thread(target=lambda: _generate(get_backend("openai"))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _generate(get_backend("openai"))
    assert len(fake_openai.image_requests()) == 4 and len(built) == 1
    monkeypatch.setenv("RESHOOT_BACKEND_TIMEOUT", "30")  # another configuration: a client of its own
    get_settings.cache_clear()
    _generate(get_backend("openai"))
    assert len(built) == 2


@pytest.mark.parametrize(("width", "height", "size"), [(750, 1000, "1024x1536"), (800, 800, "1024x1024")])
def test_other_aspects_get_their_nearest_size(fake_openai, width, height, size):
    assert Image.open(io.BytesIO(_generate(width=width, height=height))).size == tuple(map(int, size.split("x")))
    assert fake_openai.received[-1]["size"] == size


def test_references_go_to_images_edit_as_repeated_image_parts(fake_openai):
    png, jpeg = _image("PNG"), _image("JPEG", (0, 0, 255))
    data = _generate(references=[png, jpeg], width=750, height=1000)
    assert Image.open(io.BytesIO(data)).size == (1024, 1536)
    [request] = fake_openai.image_requests()
    assert request.path == "/v1/images/edits"
    received = fake_openai.received[-1]
    assert {k: received[k] for k in ("model", "prompt", "size")} == {
        "model": "gpt-image-1",
        "prompt": "A reading nook by a window",
        "size": "1024x1536",
    }
    parts = received["images"]
    assert [(p.name, p.filename, p.content_type) for p in parts] == [
        ("image[]", "reference-1.png", "image/png"),
        ("image[]", "reference-2.jpg", "image/jpeg"),
    ]
    assert [p.data for p in parts] == [png, jpeg]
    assert "seed" not in received


def test_a_style_lora_is_ignored(fake_openai):
    assert _backend().capabilities.accepts_style_lora is False
    plain = _generate()
    assert _generate(style_lora="warm-documentary-v2") == plain
    assert fake_openai.received[0] == fake_openai.received[1]
    assert "warm-documentary" not in repr(fake_openai.received[1])


def test_missing_key_is_misconfiguration_without_a_request(fake_openai, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    get_settings.cache_clear()
    with pytest.raises(BackendMisconfigured) as info:
        _generate(get_backend("openai"))
    assert "OPENAI_API_KEY" in info.value.message and info.value.retryable is False
    assert fake_openai.requests == []


def test_wrong_key_is_misconfiguration(fake_openai):
    with pytest.raises(BackendMisconfigured) as info:
        _generate(_backend(api_key="sk-wrong"))
    assert "401" in info.value.message and len(fake_openai.image_requests()) == 1


def test_rate_limit_is_retried_honouring_retry_after(fake_openai, monkeypatch):
    waits: list[float] = []
    monkeypatch.setitem(call_with_retries.__kwdefaults__, "sleep", waits.append)  # the pauses, not taken
    fake_openai.fail("rate_limit", times=2, retry_after=0.15)
    data = _generate()
    assert Image.open(io.BytesIO(data)).size == (1536, 1024)
    assert len(fake_openai.image_requests()) == 3
    assert waits == [0.15, 0.15]  # two waits of Retry-After, although the backoff is 1 ms


def test_rate_limit_that_persists_ends_as_rate_limited(fake_openai):
    fake_openai.fail("rate_limit", times=5)
    with pytest.raises(RateLimited) as info:
        _generate(_backend(attempts=4))
    assert (info.value.code, info.value.retryable, info.value.status) == ("BACKEND_RATE_LIMITED", True, 429)
    assert len(fake_openai.image_requests()) == 4


def test_server_errors_are_retried_then_unavailable(fake_openai):
    fake_openai.fail("server_error", times=1)
    _generate()
    assert len(fake_openai.image_requests()) == 2
    fake_openai.fail("server_error", times=3, status=503)
    with pytest.raises(BackendUnavailable) as info:
        _generate()
    assert info.value.code == "BACKEND_UNAVAILABLE" and info.value.retryable is True
    assert len(fake_openai.image_requests()) == 5


def test_policy_rejection_is_not_retried_and_keeps_the_message(fake_openai):
    fake_openai.fail("policy", times=3)
    with pytest.raises(ContentRejected) as info:
        _generate(references=[_image("PNG")])
    assert info.value.code == "BACKEND_CONTENT_REJECTED" and info.value.retryable is False
    assert info.value.message.startswith("Your request was rejected as a result of our safety system.")
    assert len(fake_openai.image_requests()) == 1


def test_quota_exhausted_is_misconfiguration_not_retried(fake_openai):
    fake_openai.fail("quota", times=3)
    with pytest.raises(BackendMisconfigured):
        _generate()
    assert len(fake_openai.image_requests()) == 1


def test_timeout_from_settings_is_a_retryable_error_not_retried_inside(fake_openai, monkeypatch):
    monkeypatch.setenv("RESHOOT_BACKEND_TIMEOUT", "1.5")
    get_settings.cache_clear()
    fake_openai.fail("timeout", seconds=10)
    with pytest.raises(BackendTimeout) as info:
        _generate()
    assert (info.value.code, info.value.retryable, info.value.status) == ("BACKEND_TIMEOUT", True, 504)
    assert (
        info.value.message
        == "OpenAI did not send the image within 1.5 s (RESHOOT_BACKEND_TIMEOUT), so Reshoot gave up."
    )
    assert len(fake_openai.image_requests()) == 1


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("malformed", "OpenAI answered with a body that is not valid JSON."),
        ("no_image", "OpenAI answered without a readable image."),
        ("empty_data", "OpenAI answered without an image (its list of images was empty)."),
    ],
)
def test_malformed_answers_are_backend_errors_in_plain_words(fake_openai, kind, message):
    fake_openai.fail(kind)
    with pytest.raises(BackendError) as info:
        _generate()
    assert type(info.value) is BackendError and info.value.code == "BACKEND_ERROR"
    assert info.value.message == message  # never "list index out of range" or a client library's repr
    assert len(fake_openai.image_requests()) == 1


@pytest.mark.parametrize("returned", ["1x1", "1024x1024", "512x768"])
def test_an_image_of_another_size_than_asked_is_refused(fake_openai, returned):
    """Asked 1536x1024 (the nearest to 1920x800): a 1×1, a square or a smaller one is not scaled up into heroes."""
    fake_openai.fail("wrong_size", size=returned)
    with pytest.raises(BackendError) as info:
        _generate(width=1920, height=800)
    width, height = returned.split("x")
    assert (
        info.value.message == f"OpenAI returned a {width}×{height} image for a 1536×1024 request, so it was not used."
    )
    assert info.value.details["asked"] == [1536, 1024]


def test_a_trickling_answer_is_cut_off_at_the_deadline(fake_openai, monkeypatch):
    """A 1024×1536 answer sent one byte every 0.2 s would take hours; the call's total deadline ends it."""
    monkeypatch.setenv("RESHOOT_BACKEND_TIMEOUT", "1.5")
    get_settings.cache_clear()
    fake_openai.fail("trickle", seconds=0.2)
    with pytest.raises(BackendTimeout) as info:
        _generate()
    assert info.value.code == "BACKEND_TIMEOUT" and info.value.message.startswith(
        "OpenAI did not send the image within 1.5 s"
    )
    deadline = time.monotonic() + 5
    while not fake_openai.trickled and time.monotonic() < deadline:  # the fake notices the hang-up on its next byte
        time.sleep(0.05)
    [(path, sent, total)] = fake_openai.trickled
    assert path == "/v1/images/generations" and sent < total


def test_a_retry_that_would_end_past_the_deadline_is_not_waited_for(fake_openai, monkeypatch):
    monkeypatch.setenv("RESHOOT_BACKEND_TIMEOUT", "2")
    get_settings.cache_clear()
    fake_openai.fail("rate_limit", times=3, retry_after=30)
    with pytest.raises(RateLimited):
        _generate()
    assert len(fake_openai.image_requests()) == 1  # Retry-After 30 s is past the 2 s deadline: no pointless wait


def test_unreachable_server_is_unavailable(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = OpenAIBackend(api_key="sk-x", base_url=f"http://127.0.0.1:{port}/v1", backoff=0.001)
    with pytest.raises(BackendUnavailable) as info:
        _generate(backend)
    assert info.value.message == "Could not reach OpenAI: connection refused (is the server running on that port?)."


# --- the fake refuses what the real API refuses, so a wrong request cannot pass ---------------


def _client(fake) -> openai.OpenAI:
    return openai.OpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0)


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"size": "1920x800"}, "size"),
        ({"model": "dall-e-9"}, "model"),
        ({"extra_body": {"seed": 7}}, "seed"),
        ({"response_format": "b64_json"}, "response_format"),
        ({"n": 11}, "n"),
    ],
)
def test_fake_refuses_requests_the_api_refuses(fake_openai, params, param):
    args = {"model": "gpt-image-1", "prompt": "x", "size": "1024x1024"} | params
    with pytest.raises(openai.BadRequestError) as info:
        _client(fake_openai).images.generate(**args)
    assert info.value.param == param


def test_fake_refuses_an_edit_whose_image_is_not_an_image(fake_openai):
    with pytest.raises(openai.BadRequestError) as info:
        _client(fake_openai).images.edit(model="gpt-image-1", prompt="x", image=[("a.png", b"nope", "image/png")])
    assert info.value.code == "invalid_image_file"
