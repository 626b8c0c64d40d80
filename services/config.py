"""Settings: environment variables first, `.streamlit/secrets.toml` as fallback, offline defaults."""

from __future__ import annotations

import os
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRETS_FILE = PROJECT_ROOT / ".streamlit" / "secrets.toml"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    storage_url: str
    s3_endpoint_url: str | None
    s3_region: str
    s3_public_url: str | None
    queue_url: str
    image_backend: str
    openai_api_key: str | None
    openai_model: str
    openai_base_url: str | None
    comfyui_url: str | None
    comfyui_workflow: str | None
    comfyui_reference_workflow: str | None
    generation_concurrency: int
    keep_versions: int
    max_upload_mb: int
    max_image_pixels: int
    max_upload_files: int
    max_upload_request_mb: int
    max_references_per_shot: int
    backend_timeout_seconds: float
    asset_base_url: str
    api_wait_seconds: float
    gc_interval_seconds: float = 600.0
    gc_grace_seconds: float = 3600.0
    backend_concurrency: int = 0  # 0: no limit across processes (each still has generation_concurrency)
    embedded_workers: bool | None = None  # None: consumer threads in the dashboard/API only with the SQLite queue
    api_cors_origins: list[str] = field(default_factory=list)
    # Sign-in (services/auth.py): none | oidc | proxy
    auth: str = "none"
    trusted_proxies: list[str] = field(default_factory=lambda: ["127.0.0.1", "::1"])
    default_role: str = "viewer"
    groups_claim: str = "groups"
    role_groups: dict[str, str] = field(default_factory=dict)  # group name -> role
    token_secret: str | None = None
    public_assets: bool = False
    proxy_sign_out_url: str = "/oauth2/sign_out"

    @property
    def max_upload_bytes(self) -> int:
        """Per file."""
        return self.max_upload_mb * 1024 * 1024

    @property
    def max_upload_request_bytes(self) -> int:
        """Per request (all files together)."""
        return self.max_upload_request_mb * 1024 * 1024

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"


def _read_secrets() -> dict[str, str]:
    if not SECRETS_FILE.exists():
        return {}
    with SECRETS_FILE.open("rb") as f:
        return {str(k).upper(): str(v) for k, v in tomllib.load(f).items() if not isinstance(v, dict)}


class _SettingsCache:
    """The process-wide settings, read once; `get_settings.cache_clear()` after changing the environment.

    Unlike `functools.lru_cache`, a read that was under way in another thread (a worker's heartbeat) when the cache
    was cleared does not store its now stale settings afterwards: the next call reads the environment again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settings: Settings | None = None
        self._generation = 0

    def __call__(self) -> Settings:
        settings = self._settings
        if settings is not None:
            return settings
        generation = self._generation
        settings = _read_settings()
        with self._lock:
            if generation == self._generation:
                self._settings = settings
        return settings

    def cache_clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._settings = None


get_settings = _SettingsCache()


def _read_settings() -> Settings:
    secrets = _read_secrets()

    def value(name: str, default: str | None = None) -> str | None:
        return os.environ.get(name) or secrets.get(name) or default

    data_dir = Path(value("RESHOOT_DATA_DIR", str(PROJECT_ROOT / "data" / "runtime"))).resolve()
    cors = value("RESHOOT_API_CORS_ORIGINS", "") or ""
    return Settings(
        data_dir=data_dir,
        database_url=value("RESHOOT_DATABASE_URL", f"sqlite:///{data_dir / 'reshoot.db'}"),
        storage_url=value("RESHOOT_STORAGE_URL", f"file://{data_dir / 'media'}"),
        s3_endpoint_url=value("RESHOOT_S3_ENDPOINT_URL"),
        s3_region=value("RESHOOT_S3_REGION") or value("AWS_REGION") or value("AWS_DEFAULT_REGION", "us-east-1"),
        s3_public_url=value("RESHOOT_S3_PUBLIC_URL"),
        queue_url=value("RESHOOT_QUEUE_URL", f"sqlite:///{data_dir / 'queue.db'}"),
        image_backend=value("RESHOOT_IMAGE_BACKEND", "local").lower(),
        openai_api_key=value("OPENAI_API_KEY"),
        openai_model=value("RESHOOT_OPENAI_MODEL", "gpt-image-1"),
        openai_base_url=value("RESHOOT_OPENAI_BASE_URL"),
        comfyui_url=value("RESHOOT_COMFYUI_URL"),
        comfyui_workflow=value("RESHOOT_COMFYUI_WORKFLOW"),
        comfyui_reference_workflow=value("RESHOOT_COMFYUI_REFERENCE_WORKFLOW"),
        generation_concurrency=max(1, int(value("RESHOOT_GENERATION_CONCURRENCY", "4"))),
        keep_versions=max(1, int(value("RESHOOT_KEEP_VERSIONS", "5"))),
        max_upload_mb=int(value("RESHOOT_MAX_UPLOAD_MB", "25")),
        max_image_pixels=int(value("RESHOOT_MAX_IMAGE_PIXELS", "50000000")),
        max_upload_files=max(1, int(value("RESHOOT_MAX_UPLOAD_FILES", "20"))),
        max_upload_request_mb=max(1, int(value("RESHOOT_MAX_UPLOAD_REQUEST_MB", "200"))),
        max_references_per_shot=max(1, int(value("RESHOOT_MAX_REFERENCES_PER_SHOT", "16"))),
        backend_timeout_seconds=float(value("RESHOOT_BACKEND_TIMEOUT", "120")),
        asset_base_url=value("RESHOOT_ASSET_BASE_URL", "/assets/"),
        api_wait_seconds=max(0.0, float(value("RESHOOT_API_WAIT_SECONDS", "0"))),  # 0: wait as long as the job runs
        gc_interval_seconds=float(value("RESHOOT_GC_INTERVAL_SECONDS", "600")),
        gc_grace_seconds=float(value("RESHOOT_GC_GRACE_SECONDS", "3600")),
        backend_concurrency=max(0, int(value("RESHOOT_BACKEND_CONCURRENCY", "0"))),
        embedded_workers=_switch(value("RESHOOT_EMBEDDED_WORKERS", "auto"), "RESHOOT_EMBEDDED_WORKERS"),
        api_cors_origins=[o.strip() for o in cors.split(",") if o.strip()],
        auth=_choice("RESHOOT_AUTH", value("RESHOOT_AUTH", "none"), AUTH_MODES),
        trusted_proxies=_items(value("RESHOOT_TRUSTED_PROXIES", "127.0.0.1,::1")),
        default_role=_choice("RESHOOT_DEFAULT_ROLE", value("RESHOOT_DEFAULT_ROLE", "viewer"), ROLES),
        groups_claim=value("RESHOOT_GROUPS_CLAIM", "groups"),
        role_groups=_role_groups(value("RESHOOT_ROLE_GROUPS", "")),
        token_secret=value("RESHOOT_TOKEN_SECRET"),
        public_assets=(value("RESHOOT_PUBLIC_ASSETS", "false") or "").lower() in ("1", "true", "yes", "on"),
        proxy_sign_out_url=value("RESHOOT_PROXY_SIGN_OUT_URL", "/oauth2/sign_out"),
    )


def _switch(raw: str, name: str) -> bool | None:
    """`1/true/on/yes`, `0/false/off/no`, or `auto` (None)."""
    word = raw.strip().lower()
    if word in ("1", "true", "on", "yes"):
        return True
    if word in ("0", "false", "off", "no"):
        return False
    if word in ("", "auto"):
        return None
    raise ValueError(f"{name} must be 1, 0 or auto, not {raw!r}")


AUTH_MODES = ("none", "oidc", "proxy")
ROLES = ("viewer", "reviewer", "admin")


class SettingError(ValueError):
    """A setting with a value Reshoot cannot use; the message names the variable and what it expects."""


def _items(raw: str | None) -> list[str]:
    return [item.strip() for item in (raw or "").split(",") if item.strip()]


def _choice(name: str, raw: str | None, allowed: tuple[str, ...]) -> str:
    picked = (raw or "").strip().lower()
    if picked not in allowed:
        raise SettingError(f"{name}={raw!r} is not valid: use one of {', '.join(allowed)}")
    return picked


def _role_groups(raw: str | None) -> dict[str, str]:
    """`reshoot-admins=admin,designers=reviewer` -> {"reshoot-admins": "admin", "designers": "reviewer"}."""
    mapping = {}
    for item in _items(raw):
        group, sep, role = item.rpartition("=")
        if not sep or not group.strip():
            raise SettingError(
                f"RESHOOT_ROLE_GROUPS item {item!r} is not valid: write group=role, e.g. reshoot-admins=admin"
            )
        mapping[group.strip()] = _choice("RESHOOT_ROLE_GROUPS", role, ROLES)
    return mapping
