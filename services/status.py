"""What Reshoot runs on (database, storage, queue, image backend) and whether each one answers, in plain words."""

from __future__ import annotations

import secrets
from urllib.parse import urlparse, urlunparse

from services.config import Settings, get_settings
from services.read_models.status import ComponentStatus

PROBE_TIMEOUT = 5.0


def redact(url: str | None) -> str:
    """`url` without its password (`postgresql://user:***@host/db`)."""
    if not url:
        return ""
    parsed = urlparse(url)
    if parsed.password:
        netloc = f"{parsed.username or ''}:***@{parsed.hostname or ''}" + (f":{parsed.port}" if parsed.port else "")
        return urlunparse(parsed._replace(netloc=netloc))
    return url


def _status(component: str, in_use: str, ok: bool, message: str) -> ComponentStatus:
    return ComponentStatus(component=component, in_use=in_use, ok=ok, message=message)


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:300]


def _problem(what: str, error: Exception) -> str:
    """A configuration problem's own plain sentence (it names the variable to set), else `what: reason`."""
    from services.operator_errors import plain_error

    plain = plain_error(error)
    return plain.message if plain is not None else f"{what}: {_reason(error)}"


def database_status() -> ComponentStatus:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import text

    from services.db import get_engine

    url = get_settings().database_url
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
            revision = MigrationContext.configure(connection).get_current_revision()
    except Exception as e:
        return _status("Database", redact(url), False, _problem("Cannot connect", e))
    return _status("Database", redact(url), True, f"Connected; schema at revision {revision or 'none'}")


def storage_status() -> ComponentStatus:
    """Write, read back and delete a small probe object."""
    from services.storage import get_storage

    settings = get_settings()
    key = f"health/probe-{secrets.token_hex(4)}.txt"
    try:
        storage = get_storage()
        storage.put(key, b"ok", content_type="text/plain")
        readable = storage.get(key) == b"ok"
        storage.delete(key)
    except Exception as e:
        return _status("Storage", redact(settings.storage_url), False, _problem("Cannot write or read", e))
    if not readable:
        return _status("Storage", redact(settings.storage_url), False, "A written probe read back different bytes")
    return _status("Storage", redact(settings.storage_url), True, "Readable and writable")


def queue_status() -> ComponentStatus:
    from services.jobs import consumer_alive

    url = get_settings().queue_url
    if urlparse(url).scheme in ("redis", "rediss"):
        try:
            import redis

            redis.Redis.from_url(url, socket_timeout=PROBE_TIMEOUT, socket_connect_timeout=PROBE_TIMEOUT).ping()
        except Exception as e:
            return _status("Queue", redact(url), False, _problem("Cannot reach Redis", e))
    try:
        alive = consumer_alive()
    except Exception as e:
        return _status("Queue", redact(url), False, _problem("Cannot read worker heartbeats", e))
    if alive:
        return _status("Queue", redact(url), True, "A worker is consuming jobs")
    return _status(
        "Queue",
        redact(url),
        False,
        "No worker is running: jobs wait until the dashboard or `python -m services worker` starts one",
    )


def _probe_openai(settings: Settings) -> str:
    import openai

    client = openai.OpenAI(
        api_key=settings.openai_api_key, base_url=settings.openai_base_url, timeout=PROBE_TIMEOUT, max_retries=0
    )
    try:
        client.models.retrieve(settings.openai_model)
    except openai.AuthenticationError:
        raise RuntimeError("OpenAI refused the API key (OPENAI_API_KEY)") from None
    except openai.NotFoundError:
        raise RuntimeError(
            f"The model {settings.openai_model} is not available to this key (RESHOOT_OPENAI_MODEL)"
        ) from None
    except openai.APIConnectionError as e:
        raise RuntimeError(f"Cannot reach {settings.openai_base_url or 'api.openai.com'}: {_reason(e)}") from None
    return f"API key accepted; model {settings.openai_model} available"


def _probe_comfyui(url: str) -> str:
    import requests

    try:
        # `/history/{id}` is part of the API the backend uses; an unknown id answers `{}`.
        response = requests.get(url.rstrip("/") + "/history/reshoot-probe", timeout=PROBE_TIMEOUT)
    except requests.Timeout:
        raise RuntimeError(f"ComfyUI at {url} did not answer within {PROBE_TIMEOUT:g} s") from None
    except requests.ConnectionError:
        raise RuntimeError(f"Cannot reach ComfyUI at {url}: the connection failed") from None
    except requests.RequestException as e:
        raise RuntimeError(f"Cannot reach ComfyUI at {url}: {_reason(e)}") from None
    if response.status_code != 200:
        raise RuntimeError(f"ComfyUI at {url} answered HTTP {response.status_code}")
    return f"ComfyUI at {url} answers"


def backend_status() -> ComponentStatus:
    """The configured backend; a missing key or URL is said plainly, without calling anything."""
    from services.backends import BackendError, get_backend
    from services.backends.comfyui import NO_URL_MESSAGE
    from services.backends.openai_backend import NO_KEY_MESSAGE

    settings = get_settings()
    name = settings.image_backend
    try:
        backend = get_backend()
    except BackendError as e:
        return _status("Image backend", name, False, e.message)
    in_use = f"{backend.name} ({backend.model})"
    if backend.name == "local":
        return _status("Image backend", in_use, True, "Offline renderer (not AI): always available")
    if backend.name == "openai" and not settings.openai_api_key:
        return _status("Image backend", in_use, False, NO_KEY_MESSAGE)
    comfyui_url = settings.comfyui_url if backend.name == "comfyui" else None
    if backend.name == "comfyui" and not comfyui_url:
        return _status("Image backend", in_use, False, NO_URL_MESSAGE)
    try:
        message = _probe_comfyui(comfyui_url) if comfyui_url else _probe_openai(settings)
    except RuntimeError as e:
        return _status("Image backend", in_use, False, str(e))
    return _status("Image backend", in_use, True, message)


def system_status() -> list[ComponentStatus]:
    """One entry per component: database, storage, queue, image backend."""
    return [database_status(), storage_status(), queue_status(), backend_status()]
