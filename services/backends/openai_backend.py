"""OpenAI image models through the official client: `images.generate`, or `images.edit` when there are references.

The client's own retries are switched off: ours (`call_with_retries`) retry 429 and 5xx, honouring
`Retry-After`/`retry-after-ms`, and never retry a content-policy rejection or a timeout.
"""

from __future__ import annotations

import base64
import binascii

import openai

from services.backends import (
    BackendError,
    BackendMisconfigured,
    BackendTimeout,
    BackendUnavailable,
    Capabilities,
    ContentRejected,
    Progress,
    RateLimited,
    as_png,
    call_with_retries,
    nearest_size,
    reference_file,
)
from services.config import Settings

GPT_IMAGE_SIZES = ((1024, 1024), (1536, 1024), (1024, 1536))
MAX_REFERENCES = 16
POLICY_CODES = {"moderation_blocked", "content_policy_violation"}
NO_KEY_MESSAGE = (
    "The OpenAI backend needs an API key: set OPENAI_API_KEY (environment or .streamlit/secrets.toml), "
    "or use RESHOOT_IMAGE_BACKEND=local."
)


def _retry_after(response) -> float | None:
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


def map_error(error: openai.OpenAIError) -> BackendError:
    """The typed backend error for an exception the `openai` client raised."""
    if isinstance(error, openai.APITimeoutError):
        return BackendTimeout("OpenAI did not answer within the time-out.")
    if isinstance(error, openai.APIConnectionError):
        return BackendUnavailable(f"Could not reach OpenAI: {error}")
    if not isinstance(error, openai.APIStatusError):
        return BackendError(f"OpenAI client error: {error}")
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


def _decode(response) -> bytes:
    """PNG bytes of the first image in an ImagesResponse, or a BackendError if it has none."""
    try:
        data = base64.b64decode(response.data[0].b64_json, validate=True)
    except (AttributeError, IndexError, TypeError, ValueError, binascii.Error) as e:
        raise BackendError(f"OpenAI answered without an image: {e}") from e
    return as_png(data, source="OpenAI")


class OpenAIBackend:
    """gpt-image models: three sizes, up to 16 reference images; no seed and no LoRA (the images API has neither),
    so `seed` and `style_lora` are accepted and ignored (`honours_seed` and `accepts_style_lora` are False)."""

    name = "openai"
    capabilities = Capabilities(
        sizes=GPT_IMAGE_SIZES, honours_seed=False, accepts_references=True, max_references=MAX_REFERENCES,
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
    def from_settings(cls, settings: Settings, **overrides) -> OpenAIBackend:
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
        return openai.OpenAI(api_key=self.api_key, base_url=self.base_url, timeout=self.timeout, max_retries=0)

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
        client = self._client()
        size = "{}x{}".format(*nearest_size(self.capabilities, width, height))
        files = [reference_file(i, data) for i, data in enumerate(references[:MAX_REFERENCES])]

        def call():
            try:
                if files:
                    return client.images.edit(model=self.model, prompt=prompt, image=files, size=size, n=1)
                return client.images.generate(model=self.model, prompt=prompt, size=size, n=1)
            except openai.OpenAIError as e:
                raise map_error(e) from e
            except ValueError as e:  # a 200 whose body is not JSON
                raise BackendError(f"OpenAI answered with a body that is not valid JSON: {e}") from e

        if progress:
            progress(0.0, f"Asking OpenAI {self.model} for {size}")
        response = call_with_retries(call, attempts=self.attempts, backoff=self.backoff)
        if progress:
            progress(1.0, "Done")
        return _decode(response)
