"""Settings: environment variables first, `.streamlit/secrets.toml` as fallback, offline defaults.

Each setting is `RESHOOT_<FIELD NAME>` unless its field names another variable (`OPENAI_API_KEY`, `AWS_REGION`).
A value Reshoot cannot use raises `SettingError`, one sentence per bad variable saying what it expects, e.g.
`RESHOOT_KEEP_VERSIONS must be a whole number ≥ 1, got "abc"`; the CLI, the dashboard and workers show it as is.
"""

from __future__ import annotations

import ipaddress
import threading
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

from services.enums import Role
from services.errors import ReshootError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRETS_FILE = PROJECT_ROOT / ".streamlit" / "secrets.toml"

AUTH_MODES = ("none", "oidc", "proxy")
ROLES = tuple(str(role) for role in Role)
QUEUE_SCHEMES = ("sqlite", "redis", "rediss")

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class SettingError(ReshootError):
    """Settings Reshoot cannot use; the message names each variable, what it expects and the value it got."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems  # (variable, sentence)
        super().__init__(
            "SETTING_INVALID",
            500,
            {"variables": [variable for variable, _ in problems]},
            "\n".join(sentence for _, sentence in problems),
        )


def _expects(text: str, **more: Any) -> Any:
    """What a setting expects, as the end of `RESHOOT_X must be …`; kept as the field's description."""
    return Field(description=text, **more)


def _url_shown(value: object) -> str:
    """A rejected value as shown back: a URL without its password."""
    text = str(value)
    try:
        parsed = urlparse(text)
        if parsed.password:
            return text.replace(f":{parsed.password}@", ":***@", 1)
    except ValueError:
        pass
    return text


def _web_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError("not an http(s) URL")
    return value.rstrip("/") if parsed.path in ("", "/") else value


def _web_url_or_path(value: str) -> str:
    return value if value.startswith("/") else _web_url(value)


def _items(raw: object) -> list[str]:
    if isinstance(raw, (list, tuple)):
        return [str(item).strip() for item in raw if str(item).strip()]
    return [item.strip() for item in str(raw or "").split(",") if item.strip()]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RESHOOT_",
        case_sensitive=False,
        env_ignore_empty=True,  # `RESHOOT_X=` means the default, as an unset variable
        extra="ignore",
        frozen=True,
    )

    data_dir: Path = _expects("a folder path", default=PROJECT_ROOT / "data" / "runtime")
    # "" (the default): the SQLite files and the media folder in data_dir.
    database_url: str = _expects(
        "a database URL such as sqlite:///path/to/reshoot.db or postgresql+psycopg://user@host:5432/reshoot",
        default="",
    )
    storage_url: str = _expects("a storage URL such as file:///path/to/media or s3://bucket/prefix", default="")
    s3_endpoint_url: str | None = _expects("an http(s) URL such as http://127.0.0.1:8333", default=None)
    s3_region: str = _expects(
        "an AWS region name such as us-east-1",
        default="us-east-1",
        validation_alias=AliasChoices("RESHOOT_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
    )
    s3_public_url: str | None = _expects(
        "an http(s) URL (or a path starting with /) that object keys are appended to", default=None
    )
    queue_url: str = _expects("a queue URL: sqlite:///path/to/queue.db or redis://host:6379/0", default="")
    image_backend: str = _expects("local, openai or comfyui", default="local")
    openai_api_key: str | None = _expects(
        "an OpenAI API key", default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "RESHOOT_OPENAI_API_KEY")
    )
    openai_model: str = _expects("an OpenAI image model name such as gpt-image-1", default="gpt-image-1")
    openai_base_url: str | None = _expects("an http(s) URL such as https://api.openai.com/v1", default=None)
    comfyui_url: str | None = _expects("an http(s) URL such as http://127.0.0.1:8188", default=None)
    comfyui_workflow: str | None = _expects("a workflow file path or its JSON", default=None)
    comfyui_reference_workflow: str | None = _expects("a workflow file path or its JSON", default=None)
    generation_concurrency: int = _expects("a whole number ≥ 1", default=4, ge=1)
    keep_versions: int = _expects("a whole number ≥ 1", default=5, ge=1)
    max_upload_mb: int = _expects("a whole number of megabytes ≥ 1", default=25, ge=1)
    max_image_pixels: int = _expects("a whole number of pixels ≥ 1", default=50_000_000, ge=1)
    max_upload_files: int = _expects("a whole number ≥ 1", default=20, ge=1)
    max_upload_request_mb: int = _expects("a whole number of megabytes ≥ 1", default=200, ge=1)
    max_references_per_shot: int = _expects("a whole number ≥ 1", default=16, ge=1)
    backend_timeout_seconds: float = _expects(
        "a number of seconds > 0", default=120.0, gt=0, validation_alias="RESHOOT_BACKEND_TIMEOUT"
    )
    asset_base_url: str = _expects("an http(s) URL or a path starting with /", default="/assets/")
    api_wait_seconds: float = _expects("a number of seconds ≥ 0 (0: as long as the job runs)", default=0.0, ge=0)
    gc_interval_seconds: float = _expects("a number of seconds > 0", default=600.0, gt=0)
    gc_grace_seconds: float = _expects("a number of seconds ≥ 0", default=3600.0, ge=0)
    backend_concurrency: int = _expects("a whole number ≥ 0 (0: no limit across processes)", default=0, ge=0)
    # None: consumer threads in the dashboard/API only with the SQLite queue
    embedded_workers: bool | None = _expects("1, 0 or auto", default=None)
    api_cors_origins: Annotated[list[str], NoDecode] = _expects(
        "http(s) origins separated by commas, e.g. https://app.example", default_factory=list
    )
    # Sign-in (services/auth.py)
    auth: Literal["none", "oidc", "proxy"] = _expects("one of none, oidc, proxy", default="none")
    trusted_proxies: Annotated[list[str], NoDecode] = _expects(
        "IP addresses or networks separated by commas, e.g. 127.0.0.1,10.0.0.0/8",
        default_factory=lambda: ["127.0.0.1", "::1"],
    )
    default_role: Role = _expects("one of viewer, reviewer, admin", default=Role.viewer)
    groups_claim: str = _expects("a claim name such as groups", default="groups", min_length=1)
    role_groups: Annotated[dict[str, str], NoDecode] = _expects(
        "group=role pairs separated by commas (roles: viewer, reviewer, admin), e.g. reshoot-admins=admin",
        default_factory=dict,
    )  # group name -> role
    token_secret: str | None = _expects("a secret string", default=None)
    public_assets: bool = _expects("true or false", default=False)
    proxy_sign_out_url: str = _expects("an http(s) URL or a path starting with /", default="/oauth2/sign_out")

    @field_validator("image_backend", "auth", "default_role", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("data_dir", mode="after")
    @classmethod
    def _folder(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError("a file, not a folder")
        return value.resolve()

    @field_validator("database_url", "storage_url", mode="after")
    @classmethod
    def _any_url(cls, value: str) -> str:
        if value and (not urlparse(value).scheme or "://" not in value):
            raise ValueError("not a URL")
        return value

    @field_validator("queue_url", mode="after")
    @classmethod
    def _queue_url(cls, value: str) -> str:
        if value and (urlparse(value).scheme not in QUEUE_SCHEMES or "://" not in value):
            raise ValueError("not a queue URL")
        return value

    @field_validator("s3_endpoint_url", "openai_base_url", "comfyui_url", mode="after")
    @classmethod
    def _web(cls, value: str | None) -> str | None:
        return None if value is None else _web_url(value)

    @field_validator("s3_public_url", "asset_base_url", "proxy_sign_out_url", mode="after")
    @classmethod
    def _web_or_path(cls, value: str | None) -> str | None:
        return None if value is None else _web_url_or_path(value)

    @field_validator("embedded_workers", mode="before")
    @classmethod
    def _switch(cls, value: object) -> object:
        word = str(value).strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        if word in ("", "auto", "none"):
            return None
        raise ValueError("not 1, 0 or auto")

    @field_validator("public_assets", mode="before")
    @classmethod
    def _flag(cls, value: object) -> object:
        word = str(value).strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise ValueError("not true or false")

    @field_validator("api_cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> list[str]:
        return [_web_url(origin) for origin in _items(value)]

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: object) -> list[str]:
        proxies = _items(value)
        for proxy in proxies:
            ipaddress.ip_network(proxy, strict=False)  # a ValueError names nothing: the field's text says it
        return proxies

    @field_validator("role_groups", mode="before")
    @classmethod
    def _role_groups(cls, value: object) -> dict[str, str]:
        """`reshoot-admins=admin,designers=reviewer` -> {"reshoot-admins": "admin", "designers": "reviewer"}."""
        items = [f"{group}={role}" for group, role in value.items()] if isinstance(value, Mapping) else _items(value)
        mapping = {}
        for item in items:
            group, sep, role = item.rpartition("=")
            if not sep or not group.strip() or role.strip().lower() not in ROLES:
                raise ValueError(f"not group=role: {item!r}")
            mapping[group.strip()] = role.strip().lower()
        return mapping

    @model_validator(mode="after")
    def _in_data_dir(self) -> Settings:
        """The SQLite database and queue and the media folder default to files in the data dir."""
        defaults = {
            "database_url": f"sqlite:///{self.data_dir / 'reshoot.db'}",
            "storage_url": f"file://{self.data_dir / 'media'}",
            "queue_url": f"sqlite:///{self.data_dir / 'queue.db'}",
        }
        for name, default in defaults.items():
            if not getattr(self, name):
                object.__setattr__(self, name, default)  # frozen: set once, while being built
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, SecretsTomlSource(settings_cls)

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


class SecretsTomlSource(EnvSettingsSource):
    """`.streamlit/secrets.toml`'s top-level keys, read as the environment variables of the same names (tables
    such as `[auth]` are Streamlit's own)."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(read_secrets(), self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


def read_secrets() -> dict[str, str | None]:
    if not SECRETS_FILE.exists():
        return {}
    with SECRETS_FILE.open("rb") as f:
        table = tomllib.load(f)
    values: dict[str, str | None] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            continue
        if isinstance(value, bool):
            values[str(key)] = "true" if value else "false"
        elif isinstance(value, list):
            values[str(key)] = ",".join(str(item) for item in value)
        else:
            values[str(key)] = str(value)
    return values


def variable_names() -> list[str]:
    """Every variable a setting is read from, aliases included."""
    names = []
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names += [str(choice) for choice in alias.choices]
        else:
            names.append(alias if isinstance(alias, str) else f"RESHOOT_{name.upper()}")
    return names


def variable_name(field_name: str) -> str:
    """The variable a setting is read from (its first name when it has several)."""
    field = Settings.model_fields[field_name]
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    if isinstance(alias, str):
        return alias
    return f"RESHOOT_{field_name.upper()}"


def _field_of(location: object) -> tuple[str, FieldInfo] | None:
    text = str(location).lower()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names = {name}
        if isinstance(alias, AliasChoices):
            names |= {str(choice).lower() for choice in alias.choices}
        elif isinstance(alias, str):
            names.add(alias.lower())
        if text in names:
            return name, field
    return None


def setting_error(error: ValidationError) -> SettingError:
    problems: list[tuple[str, str]] = []
    for item in error.errors():
        found = _field_of(item["loc"][0]) if item["loc"] else None
        if found is None:
            problems.append(("", item["msg"]))
            continue
        name, field = found
        variable = variable_name(name)
        if any(variable == seen for seen, _ in problems):
            continue  # a list's or dict's several item errors: one sentence per variable
        problems.append((variable, f'{variable} must be {field.description}, got "{_url_shown(item["input"])}"'))
    return SettingError(problems)


def _read_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as e:
        raise setting_error(e) from None


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
