"""Who is acting: the one `Actor` every use case records (audit rows, job `requested_by`, review decisions).

The dashboard, the API and the CLI authenticate the person (see `services.auth`) and run the use case inside
`acting_as(actor)`; use cases read `current_actor()` and never take a free-text name. Outside any
`acting_as` block (the CLI, workers, tests) the actor is the local user: `RESHOOT_USER` or the OS user name.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache

from services.enums import Role

__all__ = ["Actor", "Role", "acting_as", "current_actor", "local_actor", "local_user_name", "set_actor_source"]


@dataclass(frozen=True)
class Actor:
    email: str  # the stable identity recorded everywhere (a local user's is their user name)
    name: str
    role: Role

    @property
    def label(self) -> str:
        return self.name or self.email


def local_user_name() -> str:
    name = os.environ.get("RESHOOT_USER", "").strip()
    return name or _os_user()


@cache
def _os_user() -> str:
    """The OS user name, read once: `getpass.getuser()` reads the passwd database (~0.1 ms), and a dashboard run
    asks for the actor about a hundred times (every permission check of every card's widgets)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "local"


def local_actor() -> Actor:
    """One person on one machine (`RESHOOT_AUTH=none`): they may do everything."""
    return _local_actor(local_user_name())


@cache
def _local_actor(name: str) -> Actor:
    return Actor(email=name, name=name, role=Role.admin)


_current: ContextVar[Actor | None] = ContextVar("reshoot_actor", default=None)
_source: Callable[[], Actor | None] | None = None


def set_actor_source(source: Callable[[], Actor | None] | None) -> None:
    """Where `current_actor()` looks outside `acting_as`: the dashboard registers its session's signed-in user,
    because Streamlit runs widget callbacks and fragment reruns outside the page run's `acting_as` block. The
    source answers None where it has no say (e.g. a worker thread), and may raise for a signed-out session."""
    global _source
    _source = source


def current_actor() -> Actor:
    actor = _current.get()
    if actor is None and _source is not None:
        actor = _source()
    return actor or local_actor()


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)
