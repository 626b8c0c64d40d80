"""A wrong or missing setting as one plain sentence (what is wrong, which variable to set), never a traceback.

`plain_error(e)` turns the exceptions a misconfigured database, storage or queue raises (SQLAlchemy, psycopg,
botocore, redis) into a ReshootError whose message says what to fix; the CLI prints it, the dashboard shows it
on every page that needs the part (Settings lists every part's state, see services.status).
"""

from __future__ import annotations

from services.config import get_settings
from services.errors import ReshootError

CONFIGURATION_CODES = (
    "SETTING_INVALID",  # services.config.SettingError: a variable's value Reshoot cannot use
    "STORAGE_UNAVAILABLE",
    "DATABASE_UNAVAILABLE",
    "QUEUE_UNAVAILABLE",
    "BACKEND_MISCONFIGURED",
)


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:300]


def _database_error(error: BaseException) -> ReshootError | None:
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    from services.status import redact

    url = redact(get_settings().database_url)
    if isinstance(error, (ArgumentError, NoSuchModuleError)):
        message = (
            f"RESHOOT_DATABASE_URL is not a database URL Reshoot can open ({url!r}): use sqlite:///path/to/file.db "
            "or postgresql+psycopg://user@host:5432/dbname."
        )
    elif (isinstance(error, DBAPIError) and error.connection_invalidated) or _is_connection_error(error):
        message = f"Cannot open the database {url}: {_first_line(error)}. Check RESHOOT_DATABASE_URL (and that the server runs)."
    else:
        return None
    return ReshootError("DATABASE_UNAVAILABLE", 503, {"variable": "RESHOOT_DATABASE_URL"}, message)


def _is_connection_error(error: BaseException) -> bool:
    from sqlalchemy.exc import InterfaceError, OperationalError

    if not isinstance(error, (OperationalError, InterfaceError)):
        return False
    text = _first_line(error).lower()
    # OperationalError is also a lock timeout or a bad statement: only connection failures are a setting to fix.
    return any(
        words in text
        for words in (
            "connect",
            "could not translate host",
            "does not exist",
            "password authentication",
            "unable to open database",
            "no such host",
            "timeout expired",
            "role ",
            "refused",
        )
    )


def _queue_error(error: BaseException) -> ReshootError | None:
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:
        return None
    if not isinstance(error, (RedisConnectionError, RedisTimeoutError)):
        return None
    from services.status import redact

    url = redact(get_settings().queue_url)
    return ReshootError(
        "QUEUE_UNAVAILABLE",
        503,
        {"variable": "RESHOOT_QUEUE_URL"},
        f"Cannot reach the job queue at {url}: {_first_line(error)}. Check RESHOOT_QUEUE_URL (and that Redis runs).",
    )


def plain_error(error: BaseException) -> ReshootError | None:
    """The configuration problem behind `error` as a plain ReshootError, or None when it is not one."""
    if isinstance(error, ReshootError):
        return error if error.code in CONFIGURATION_CODES else None
    return _database_error(error) or _queue_error(error)


def check_queue(timeout: float = 3.0) -> None:
    """Raise QUEUE_UNAVAILABLE (naming RESHOOT_QUEUE_URL) when a Redis queue does not answer a ping; the SQLite
    queue needs no check. Called at dashboard and worker start, where Huey itself would only log retries."""
    from urllib.parse import parse_qsl, urlencode, urlparse

    parsed = urlparse(get_settings().queue_url)
    if parsed.scheme not in ("redis", "rediss"):
        return
    import redis

    # `?queue=name` is Reshoot's (the Huey queue name), not a Redis connection option.
    options = urlencode([(k, v) for k, v in parse_qsl(parsed.query) if k != "queue"])
    client = redis.Redis.from_url(
        parsed._replace(query=options).geturl(), socket_timeout=timeout, socket_connect_timeout=timeout
    )
    try:
        client.ping()
    except redis.RedisError as e:
        raise _queue_error(e) or ReshootError(
            "QUEUE_UNAVAILABLE",
            503,
            {"variable": "RESHOOT_QUEUE_URL"},
            f"The job queue refused us: {_first_line(e)}. Check RESHOOT_QUEUE_URL.",
        ) from None
    finally:
        client.close()
