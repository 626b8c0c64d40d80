"""OpenAI image models through the official client: `images.generate`, or `images.edit` when there are references.

The client's own retries are switched off: ours (`call_with_retries`) retry 429 and 5xx, honouring
`Retry-After`/`retry-after-ms`, and never retry a content-policy rejection or a timeout. The whole call, retries
included, has one deadline (RESHOOT_BACKEND_TIMEOUT), held by the client's transport even when an answer trickles.
The image that comes back must be the size asked for (`check_image_size`): a wrong one is refused, never scaled.
The images API has no seed: `honours_seed` is False, and versions record `seedHonoured: false`.
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
from typing import Any

import httpx2  # the HTTP client the `openai` package is built on (its http_client must be one of these)
import openai
from openai.types import ImagesResponse

from services.backends import (
    BackendError,
    BackendMisconfigured,
    BackendUnavailable,
    Capabilities,
    ContentRejected,
    Deadline,
    Progress,
    RateLimited,
    ThreadDeadline,
    as_png,
    call_with_retries,
    check_image_size,
    deadline_transport,
    nearest_size,
    plain_cause,
    reference_file,
)
from services.config import Settings

GPT_IMAGE_SIZES = ((1024, 1024), (1536, 1024), (1024, 1536))
DEFAULT_BASE_URL = "https://api.openai.com/v1"  # the openai client's own default
MAX_REFERENCES = 16
POLICY_CODES = {"moderation_blocked", "content_policy_violation"}
NO_KEY_MESSAGE = (
    "The OpenAI backend needs an API key: set OPENAI_API_KEY (environment or .streamlit/secrets.toml), "
    "or use RESHOOT_IMAGE_BACKEND=local."
)


def _retry_after(response: httpx2.Response | None) -> float | None:
    headers = response.headers if response is not None else {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return float(headers[name]) * scale
        except (KeyError, TypeError, ValueError):
            continue
    return None


def _api_message(error: openai.APIStatusError) -> str:
    body = error.body if isinstance(error.body, dict) else {}
    return str(body.get("message") or error.message)


def map_error(error: openai.OpenAIError, deadline: Deadline) -> BackendError:
    """The typed backend error for an exception the `openai` client raised."""
    if isinstance(error, openai.APITimeoutError):
        return deadline.error("send the image")
    if isinstance(error, openai.APIConnectionError):
        return BackendUnavailable(f"Could not reach OpenAI: {plain_cause(error)}.")
    if not isinstance(error, openai.APIStatusError):
        return BackendError(f"The OpenAI client failed: {error}")
    status, code, message = error.status_code, error.code, _api_message(error)
    details = {"status": status, "code": code, "requestId": error.request_id}
    if status == 429 and code == "insufficient_quota":
        return BackendMisconfigured(f"OpenAI account has no quota left: {message}", details=details)
    if status == 429:
        return RateLimited(f"OpenAI rate limit: {message}", details=details, retry_after=_retry_after(error.response))
    if status >= 500:
        return BackendUnavailable(
            f"OpenAI server error ({status}): {message}", details=details, retry_after=_retry_after(error.response)
        )
    if code in POLICY_CODES:
        return ContentRejected(message, details=details)
    if status in (401, 403, 404):
        return BackendMisconfigured(f"OpenAI refused the request ({status}): {message}", details=details)
    return BackendError(f"OpenAI rejected the request ({status}): {message}", details=details)


def _decode(response: ImagesResponse) -> bytes:
    """PNG bytes of the first image in an ImagesResponse, or a BackendError if it has none."""
    images = getattr(response, "data", None) or []
    if not images:
        raise BackendError("OpenAI answered without an image (its list of images was empty).")
    encoded = getattr(images[0], "b64_json", None)
    if not encoded:
        raise BackendError("OpenAI answered without image data (no b64_json in its answer).")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (TypeError, ValueError, binascii.Error) as e:
        raise BackendError("OpenAI answered with image data that is not valid base64.") from e
    return as_png(data, source="OpenAI")


_CALL_DEADLINE = ThreadDeadline()  # the deadline of the call each thread is making, read by the shared clients


_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


_clients: dict[tuple[str, str | None, str, float, tuple[str | None, ...]], openai.OpenAI] = {}


_clients_lock = threading.Lock()


def _shared_client(api_key: str, base_url: str | None, timeout: float) -> openai.OpenAI:
    """One client per configuration, kept for the process: building one costs ~25 ms of CPU (its TLS context
    loads the CA bundle) and a new connection. Its transport holds each request to the deadline of the call the
    requesting thread is making (`_CALL_DEADLINE`)."""
    resolved = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL  # what the client will use
    # The proxy variables as they are (env_proxy, which reads them through urllib, costs ~1 ms: once per client).
    proxies = tuple(os.environ.get(name) or os.environ.get(name.upper()) for name in _PROXY_VARIABLES)
    key = (api_key, base_url, resolved, timeout, proxies)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            http_client = openai.DefaultHttpxClient(transport=deadline_transport(httpx2, _CALL_DEADLINE, url=resolved))
            client = _clients[key] = openai.OpenAI(
                api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0, http_client=http_client
            )
        return client


class OpenAIBackend:
    """gpt-image models: three sizes, up to 16 reference images; no seed and no LoRA (the images API has neither),
    so `seed` and `style_lora` are accepted and ignored (`honours_seed` and `accepts_style_lora` are False)."""

    name = "openai"
    capabilities = Capabilities(
        sizes=GPT_IMAGE_SIZES,
        honours_seed=False,
        accepts_references=True,
        max_references=MAX_REFERENCES,
        accepts_style_lora=False,
    )

    def __init__(
        self,
        *,
        api_key: str | None,
        model: str = "gpt-image-1",
        base_url: str | None = None,
        timeout: float = 120.0,
        attempts: int = 3,
        backoff: float = 1.0,
    ):
        self.model = model
        self.api_key = api_key
        self.base_url = base_url
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> OpenAIBackend:
        options = dict(
            api_key=settings.openai_api_key,
            model=settings.openai_model,
            base_url=settings.openai_base_url,
            timeout=settings.backend_timeout_seconds,
        )
        return cls(**(options | overrides))

    def _client(self) -> openai.OpenAI:
        if not self.api_key:
            raise BackendMisconfigured(NO_KEY_MESSAGE)
        return _shared_client(self.api_key, self.base_url, self.timeout)

    def generate(
        self,
        prompt: str,
        *,
        width: int,
        height: int,
        seed: int | None,
        references: list[bytes],
        style_lora: str | None = None,
        progress: Progress | None = None,
    ) -> bytes:
        deadline = Deadline(self.timeout, "OpenAI")
        asked = nearest_size(self.capabilities, width, height)
        size = "{}x{}".format(*asked)
        files = [reference_file(i, data) for i, data in enumerate(references[:MAX_REFERENCES])]

        def call() -> ImagesResponse:
            deadline.check("send the image")
            try:
                if files:
                    return client.images.edit(model=self.model, prompt=prompt, image=files, size=size, n=1)
                return client.images.generate(model=self.model, prompt=prompt, size=size, n=1)
            except openai.OpenAIError as e:
                raise map_error(e, deadline) from e
            except ValueError as e:  # a 200 whose body is not JSON
                raise BackendError(
                    "OpenAI answered with a body that is not valid JSON.", details={"reason": str(e)[:200]}
                ) from e

        if progress:
            progress(0.0, f"Asking OpenAI {self.model} for {size}")
        client = self._client()
        with _CALL_DEADLINE.active(deadline):
            response = call_with_retries(call, attempts=self.attempts, backoff=self.backoff, deadline=deadline)
        data = _decode(response)
        check_image_size(data, width=asked[0], height=asked[1], service="OpenAI")
        if progress:
            progress(1.0, "Done")
        return data
