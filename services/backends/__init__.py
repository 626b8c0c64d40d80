"""Image backends behind one interface: `get_backend(name).generate(prompt, *, width, height, seed, references,
style_lora)`.

Every backend returns PNG bytes. `style_lora` names a style LoRA (a storyboard cast member's); a backend
whose `capabilities.accepts_style_lora` is False ignores it. `progress`, when given, is called as
`progress(fraction, message)` with `fraction` in 0..1. Failures are raised as one of the typed
`BackendError`s below, never as a client library's own exception, so jobs can decide whether to retry and
pages can show a plain message (the service and the cause in words, no library internals).

Each `generate()` call has one total deadline (RESHOOT_BACKEND_TIMEOUT): uploads, submitting, polling, retries and
downloads all count against it, and an answer that trickles in is cut off when it passes (`deadline_transport`),
not only an answer that stops. Past it the call raises BackendTimeout (`BACKEND_TIMEOUT`).
"""

from __future__ import annotations

import errno
import io
import math
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

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
    """The call's total deadline passed: retryable by the job, but not retried inside one call (it already waited)."""

    code = "BACKEND_TIMEOUT"
    status = 504


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


@dataclass
class Deadline:
    """The one total deadline of a backend call: `seconds` from its start, whatever the call does meanwhile."""

    seconds: float
    service: str
    started: float = field(default_factory=time.monotonic)

    def remaining(self) -> float:
        return self.seconds - (time.monotonic() - self.started)

    def expired(self) -> bool:
        return self.remaining() <= 0

    def error(self, doing: str) -> BackendTimeout:
        """The BackendTimeout to raise: `doing` says what was under way, e.g. "finish the image"."""
        return BackendTimeout(
            f"{self.service} did not {doing} within {self.seconds:g} s (RESHOOT_BACKEND_TIMEOUT), so Reshoot gave up.",
            details={"service": self.service, "timeoutSeconds": self.seconds},
        )

    def check(self, doing: str) -> None:
        if self.expired():
            raise self.error(doing)


class ThreadDeadline:
    """The Deadline of the call the current thread is making, for a client built once and shared by every call and
    thread (`deadline_transport` accepts it wherever it accepts a Deadline): each call holds its own requests to its
    own deadline with `with shared.active(deadline): …`."""

    def __init__(self) -> None:
        self._local = threading.local()

    @contextmanager
    def active(self, deadline: Deadline) -> Iterator[Deadline]:
        previous = getattr(self._local, "deadline", None)
        self._local.deadline = deadline
        try:
            yield deadline
        finally:
            self._local.deadline = previous

    def remaining(self) -> float:
        deadline: Deadline | None = getattr(self._local, "deadline", None)
        return deadline.remaining() if deadline is not None else math.inf

    def expired(self) -> bool:
        return self.remaining() <= 0


def env_proxy(url: str) -> str | None:
    """The proxy HTTPS_PROXY / HTTP_PROXY / ALL_PROXY name for `url`, unless NO_PROXY exempts its host. (A client
    given its own transport ignores these, so `deadline_transport` is handed the proxy explicitly.)"""
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname or urllib.request.proxy_bypass(parts.hostname):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")


def deadline_transport(http: Any, deadline: Deadline | ThreadDeadline, *, url: str) -> Any:
    """An httpx-style transport (`http` is the `httpx` module, or the fork the `openai` client uses) for requests to
    `url` that holds every request to `deadline`: its connect/read/write timeouts never exceed the time left, and
    the body is read chunk by chunk, stopping with a ReadTimeout once the deadline has passed. httpx's own read
    timeout restarts with every chunk, so a server trickling one byte every few seconds would otherwise hold a call
    for as long as it likes. The environment's proxy for `url` is used, as httpx would without a transport."""

    class DeadlineStream(http.SyncByteStream):
        def __init__(self, stream: http.SyncByteStream, request: http.Request):
            self.stream, self.request = stream, request

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self.stream:
                if deadline.expired():
                    raise http.ReadTimeout("the answer did not arrive in time", request=self.request)
                yield chunk

        def close(self) -> None:
            self.stream.close()

    class DeadlineTransport(http.BaseTransport):
        def __init__(self) -> None:
            self.inner = http.HTTPTransport(proxy=env_proxy(url))

        def handle_request(self, request: http.Request) -> http.Response:
            left = deadline.remaining()
            if left <= 0:
                raise http.ConnectTimeout("no time left for this request", request=request)
            timeouts = request.extensions.get("timeout") or {}
            request.extensions["timeout"] = {
                kind: min(left, timeouts.get(kind) or left) for kind in ("connect", "read", "write", "pool")
            }
            response = self.inner.handle_request(request)
            return http.Response(
                status_code=response.status_code,
                headers=response.headers,
                stream=DeadlineStream(response.stream, request),
                extensions=response.extensions,
            )

        def close(self) -> None:
            self.inner.close()

    return DeadlineTransport()


def plain_cause(failure: BaseException) -> str:
    """Why a connection failed, in words ("connection refused"), not a client library's repr of its objects."""
    seen = set()
    error: BaseException | None = failure
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno:
            return {
                errno.ECONNREFUSED: "connection refused (is the server running on that port?)",
                errno.ECONNRESET: "the connection was reset",
                errno.EHOSTUNREACH: "the host is unreachable",
                errno.ENETUNREACH: "the network is unreachable",
            }.get(error.errno, (error.strerror or str(error)).lower())
        if "Name or service not known" in str(error) or "nodename nor servname" in str(error):
            return "the host name does not resolve"
        error = error.__cause__ or error.__context__
    return "the connection failed"


def check_image_size(data: bytes, *, width: int, height: int, service: str, hint: str = "") -> None:
    """Refuse an image that is not what was asked for: another aspect (beyond 1 %), or smaller than asked. A wrong
    image must not be scaled up into heroes (a 1×1 answer made three of them once)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            got = image.size
    except Exception as e:
        raise BackendError(f"{service} answered without a readable image.", details={"reason": str(e)[:200]}) from e
    aspect_off = abs(math.log((got[0] / got[1]) / (width / height))) > 0.01
    if aspect_off or got[0] < width or got[1] < height:
        raise BackendError(
            f"{service} returned a {got[0]}×{got[1]} image for a {width}×{height} request, so it was not used."
            + (f" {hint}" if hint else ""),
            details={"service": service, "asked": [width, height], "received": list(got)},
        )


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
    new_width, new_height = (max(step, round(side * scale / step) * step) for side in (width, height))
    return new_width, new_height


def as_png(data: bytes, *, source: str) -> bytes:
    """`data` as PNG bytes (converted if the backend sent another format); BackendError if it is no image. A PNG is
    checked chunk by chunk to its end (every CRC) without decoding its pixels: the exports decode it once."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format == "PNG":
                image.verify()
                return data
            image.load()
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
    call: Callable[[], T],
    *,
    attempts: int = 3,
    backoff: float = 1.0,
    max_wait: float = 60.0,
    sleep: Callable[[float], object] = time.sleep,
    deadline: Deadline | None = None,
) -> T:
    """`call()`, again after a pause when it raises a retryable BackendError: Retry-After if given, else backoff·2ⁿ.
    A pause that would end past `deadline` is not taken: the error is raised as it is."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except BackendError as e:
            if not e.retryable or isinstance(e, BackendTimeout) or attempt == attempts:
                raise
            wait = min(max(e.retry_after if e.retry_after is not None else backoff * 2 ** (attempt - 1), 0.0), max_wait)
            if deadline is not None and wait >= deadline.remaining():
                raise
            sleep(wait)
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
