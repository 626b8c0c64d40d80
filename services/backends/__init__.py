"""Image backends behind one interface: `get_backend(name).generate(prompt, *, width, height, seed, references,
style_lora)`.

Every backend returns PNG bytes. `style_lora` names a style LoRA (a storyboard cast member's); a backend
whose `capabilities.accepts_style_lora` is False ignores it. `progress`, when given, is called as
`progress(fraction, message)` with `fraction` in 0..1. Failures are raised as one of the typed
`BackendError`s below, never as a client library's own exception, so jobs can decide whether to retry and
pages can show a plain message.
"""

from __future__ import annotations

import io
import math
import time
from dataclasses import dataclass
from typing import Callable, Protocol, TypeVar

from PIL import Image

from services.config import get_settings
from services.errors import ReshootError

Progress = Callable[[float, str], None]
T = TypeVar("T")
BACKEND_NAMES = ("local", "openai", "comfyui")


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do. `sizes` empty means any size (a multiple of `size_step`, at most `max_side`)."""

    sizes: tuple[tuple[int, int], ...] = ()
    honours_seed: bool = True
    accepts_references: bool = True
    max_references: int = 0
    accepts_style_lora: bool = False
    size_step: int = 1
    max_side: int = 4096
    label: str | None = None  # text every image of this backend must show at every export size (the offline "not AI")


class ImageBackend(Protocol):
    name: str
    model: str
    capabilities: Capabilities

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
    ) -> bytes: ...


class BackendError(ReshootError):
    """A backend failure that is none of the specific kinds below (e.g. a malformed answer)."""

    code = "BACKEND_ERROR"
    status = 502
    retryable = False

    def __init__(self, message: str, *, details: dict | None = None, retry_after: float | None = None):
        super().__init__(self.code, self.status, details, message)
        self.retry_after = retry_after  # seconds the backend asked us to wait (Retry-After), if it said


class RateLimited(BackendError):
    code = "BACKEND_RATE_LIMITED"
    status = 429
    retryable = True


class BackendUnavailable(BackendError):
    """The backend is down, answered 5xx, or took longer than the timeout."""

    code = "BACKEND_UNAVAILABLE"
    status = 503
    retryable = True


class BackendTimeout(BackendUnavailable):
    """No answer within the timeout: retryable by the job, but not retried inside one call (it already waited)."""


class ContentRejected(BackendError):
    """The backend's content policy refused the prompt or a reference; its own message is kept."""

    code = "BACKEND_CONTENT_REJECTED"
    status = 422
    retryable = False


class BackendMisconfigured(BackendError):
    """A missing key or URL, an unknown backend name, an unreadable workflow file."""

    code = "BACKEND_MISCONFIGURED"
    status = 500
    retryable = False


def nearest_size(capabilities: Capabilities, width: int, height: int) -> tuple[int, int]:
    """The size the backend should be asked for: the supported size nearest the target's aspect."""
    if width <= 0 or height <= 0:
        raise ValueError(f"Size must be positive, got {width}x{height}")
    if capabilities.sizes:
        aspect = math.log(width / height)
        return min(
            capabilities.sizes,
            key=lambda s: (abs(math.log(s[0] / s[1]) - aspect), abs(s[0] * s[1] - width * height)),
        )
    scale = min(1.0, capabilities.max_side / max(width, height))
    step = capabilities.size_step
    return tuple(max(step, round(side * scale / step) * step) for side in (width, height))  # type: ignore[return-value]


def as_png(data: bytes, *, source: str) -> bytes:
    """`data` as PNG bytes (converted if the backend sent another format); BackendError if it is no image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.format == "PNG":
                return data
            out = io.BytesIO()
            image.save(out, format="PNG")
            return out.getvalue()
    except Exception as e:
        raise BackendError(f"{source} answered without a readable image.", details={"reason": str(e)[:200]}) from e


def reference_file(index: int, data: bytes) -> tuple[str, bytes, str]:
    """(filename, bytes, content type) to upload reference `index`: PNG, JPEG and WebP as they are, else PNG."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format
    except Exception as e:
        raise BackendError(f"Reference image {index + 1} is not an image.", details={"reason": str(e)[:200]}) from e
    if fmt not in ("PNG", "JPEG", "WEBP"):
        data, fmt = as_png(data, source=f"Reference image {index + 1}"), "PNG"
    ext, mime = {"PNG": ("png", "image/png"), "JPEG": ("jpg", "image/jpeg"), "WEBP": ("webp", "image/webp")}[fmt]
    return f"reference-{index + 1}.{ext}", data, mime


def call_with_retries(
    call: Callable[[], T], *, attempts: int = 3, backoff: float = 1.0, max_wait: float = 60.0, sleep=time.sleep
) -> T:
    """`call()`, again after a pause when it raises a retryable BackendError: Retry-After if given, else backoff·2ⁿ."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except BackendError as e:
            if not e.retryable or isinstance(e, BackendTimeout) or attempt == attempts:
                raise
            wait = e.retry_after if e.retry_after is not None else backoff * 2 ** (attempt - 1)
            sleep(min(max(wait, 0.0), max_wait))
    raise AssertionError("unreachable")


def get_backend(name: str | None = None) -> ImageBackend:
    """The backend called `name` (default: `RESHOOT_IMAGE_BACKEND`), configured from settings."""
    settings = get_settings()
    name = (name or settings.image_backend or "local").strip().lower()
    if name == "local":
        from services.backends.local import LocalBackend

        return LocalBackend()
    if name == "openai":
        from services.backends.openai_backend import OpenAIBackend

        return OpenAIBackend.from_settings(settings)
    if name == "comfyui":
        from services.backends.comfyui import ComfyUIBackend

        return ComfyUIBackend.from_settings(settings)
    raise BackendMisconfigured(
        f"Unknown image backend {name!r}: choose one of {', '.join(BACKEND_NAMES)} (RESHOOT_IMAGE_BACKEND).",
        details={"backend": name},
    )
