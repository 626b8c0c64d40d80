"""Engine, sessions and schema migrations."""

from __future__ import annotations

import fcntl
import functools
import itertools
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import CursorResult, Dialect, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.sql import Executable
from sqlmodel import Session, create_engine

from services.config import get_settings
from services.storable_text import refusal, storable_error

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK_ID = 0x52455348  # "RESH": the PostgreSQL advisory lock every migrating process takes
Row = TypeVar("Row")
_BIND_SUFFIX = re.compile(r"(__\d+|_\d+)$")  # title_1, shot_id__0: SQLAlchemy's numbering of bound parameters


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url)
        event.listen(engine, "checkin", _checked_in)
        event.listen(engine, "checkout", functools.partial(_ping_if_idle, engine.dialect))
    event.listen(engine, "before_cursor_execute", _refuse_unstorable_text)
    return engine


PING_IDLE_SECONDS = 1.0  # a pooled PostgreSQL connection idle longer than this is pinged before it is used


def _checked_in(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(dialect: Dialect, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """`pool_pre_ping`, for connections that sat in the pool: a server restart or an idle timeout while a connection
    waited is found before a statement fails (the pool then opens a new one). One back from use under a second ago
    is not pinged: a generated shot checks a connection out about ten times, and each ping was a round trip."""
    checked_in = record.info.get("checked_in_at")
    if checked_in is not None and time.monotonic() - checked_in < PING_IDLE_SECONDS:
        return
    try:
        dialect.do_ping(dbapi_connection)
    except Exception as e:
        raise DisconnectionError(f"a pooled connection failed its ping: {e}") from e


def _refuse_unstorable_text(
    _conn: Any, _cursor: Any, _statement: str, parameters: Any, context: Any, _executemany: bool
) -> None:
    """The safety net behind the use cases' own checks: text PostgreSQL refuses (NUL, unpaired surrogates) is an
    INVALID_REQUEST naming the column on every database, before the driver raises a DataError (a 500)."""
    found = [
        {"field": _BIND_SUFFIX.sub("", str(name)), "message": message}
        for name, value in _named(parameters, context)
        if isinstance(value, str) and (message := refusal(value))
    ]
    if found:
        raise storable_error(found)


def _named(params: Any, context: Any) -> Iterator[tuple[str, Any]]:
    """(bound parameter name, value) of one statement's parameters: a mapping, positional values (SQLite's, named
    through the compiled statement's order, repeated for a multi-row insert), or one such set per row."""
    if isinstance(params, Mapping):
        yield from params.items()
    elif isinstance(params, (list, tuple)) and params and all(isinstance(p, (Mapping, list, tuple)) for p in params):
        for row in params:
            yield from _named(row, context)
    elif isinstance(params, (list, tuple)):
        names = list(getattr(getattr(context, "compiled", None), "positiontup", None) or ())
        if names and len(params) % len(names) == 0:
            yield from zip(itertools.cycle(names), params)
        else:
            yield from (("value", value) for value in params)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def get_engine() -> Engine:
    return engine_for(get_settings().database_url)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def execute(
    session: Session, statement: Executable, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None
) -> CursorResult[*tuple[Any, ...]]:
    """Run a Core statement in the session's transaction, without the ORM's work per statement: its UPDATE first
    evaluates the criteria against the session's objects (about 2 ms a statement). Hot paths pass statements built
    once, with `bindparam`s: building one costs more than running it (a job's progress UPDATE: 2.6 ms). A list of
    parameter sets runs the statement once for each (one INSERT of many rows)."""
    return session.connection().execute(statement, params)


def get_row(session: Session, model: type[Row], key: object) -> Row:
    """`session.get` of a row that must be there (its key came from another row): a missing one is a bug, and
    this raises LookupError naming it rather than failing later on None."""
    row = session.get(model, key)
    if row is None:
        raise LookupError(f"no {model.__name__} {key!r}")
    return row


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", (url or get_settings().database_url).replace("%", "%%"))
    return config


def migrate(revision: str = "head", url: str | None = None) -> None:
    """Bring the schema to `revision` (Alembic); safe to call on every start, from any number of processes at
    once: they take turns (a database lock), and the later ones find the schema already there. A schema already at
    the head is found by one query, without Alembic (importing it and reading the migrations cost a CLI command
    about 0.25 s)."""
    url = url or get_settings().database_url
    if revision == "head" and stored_revision(url) == head_revision():
        return
    from alembic import command

    with migration_lock(url):
        command.upgrade(alembic_config(url), revision)


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest migration's revision: migrations are named `NNNN_what.py` with `revision = 'NNNN'`, in order
    (tests/test_migrations.py checks this against Alembic's own head)."""
    return max(path.name[:4] for path in (MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def stored_revision(url: str) -> str | None:
    """The revision the database's schema is at (None: no schema yet, or not readable)."""
    try:
        with engine_for(url).connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None


@contextmanager
def migration_lock(url: str) -> Iterator[None]:
    """PostgreSQL: a session advisory lock; SQLite: an exclusive lock on a file beside the database."""
    if url.startswith("postgresql"):
        with engine_for(url).connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
                connection.commit()
        return
    path = url.split("///", 1)[-1] if url.startswith("sqlite") else ""
    if not path or path == ":memory:":
        yield
        return
    lock_path = Path(path + ".migrate-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
