"""Image backends behind one interface: `get_backend(name).generate(prompt, *, width, height, seed, references)`.

Every backend returns PNG bytes. `progress`, when given, is called as `progress(fraction, message)` with
`fraction` in 0..1. Failures are raised as one of the typed `BackendError`s below, never as a client
library's own exception, so jobs can decide whether to retry and pages can show a plain message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Protocol

from services.config import get_settings
from services.errors import ReshootError

Progress = Callable[[float, str], None]
BACKEND_NAMES = ("local", "openai", "comfyui")


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do. `sizes` empty means any size (a multiple of `size_step`, at most `max_side`)."""

    sizes: tuple[tuple[int, int], ...] = ()
    honours_seed: bool = True
    accepts_references: bool = True
    max_references: int = 0
    size_step: int = 1
    max_side: int = 4096


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
        progress: Progress | None = None,
    ) -> bytes: ...


class BackendError(ReshootError):
    """A backend failure that is none of the specific kinds below (e.g. a malformed answer)."""

    code = "BACKEND_ERROR"
    status = 502
    retryable = False

    def __init__(self, message: str, *, details: dict | None = None):
        super().__init__(self.code, self.status, details, message)


class RateLimited(BackendError):
    code = "BACKEND_RATE_LIMITED"
    status = 429
    retryable = True

    def __init__(self, message: str, *, details: dict | None = None, retry_after: float | None = None):
        super().__init__(message, details=details)
        self.retry_after = retry_after


class BackendUnavailable(BackendError):
    """The backend is down, answered 5xx, or took longer than the timeout."""

    code = "BACKEND_UNAVAILABLE"
    status = 503
    retryable = True


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
