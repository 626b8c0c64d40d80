"""Backend call slots: RESHOOT_GENERATION_CONCURRENCY per process and, with RESHOOT_BACKEND_CONCURRENCY, leases on
BackendLease rows shared by every process on every machine (renewed by heartbeats, freed when a worker dies)."""

from __future__ import annotations

import logging
import os
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from services.config import get_settings
from services.db import session_scope
from services.jobs import workers
from services.models import BackendLease, utcnow

log = logging.getLogger("reshoot.jobs")

LEASE_SECONDS = 30.0  # a backend lease not renewed this long (its holder died) is free again


_slots: tuple[int, threading.BoundedSemaphore] | None = None


_slots_lock = threading.Lock()


_leases: dict[int, str] = {}  # slot -> holder, of the leases this process holds (renewed by its heartbeats)


_lease_rows: dict[str, int] = {}  # database URL -> slot rows known to exist there


_after_call = threading.local()  # `callback`: what this thread's claim does once its backend call ended (workers.py)


@contextmanager
def backend_slot() -> Iterator[None]:
    """Hold a backend call slot: one of this process's RESHOOT_GENERATION_CONCURRENCY and, when
    RESHOOT_BACKEND_CONCURRENCY is set, one of that many leases shared by every process on every machine. Once it
    is given back, the thread's `after_call` callback (if any) runs: the consumer thread may take the next unit."""
    global _slots
    settings = get_settings()
    with _slots_lock:
        if _slots is None or _slots[0] != settings.generation_concurrency:
            _slots = (settings.generation_concurrency, threading.BoundedSemaphore(settings.generation_concurrency))
        semaphore = _slots[1]
    try:
        with semaphore:
            if not settings.backend_concurrency:
                yield
                return
            slot, holder = _acquire_lease(settings.backend_concurrency)
            try:
                yield
            finally:
                _release_lease(slot, holder)
    finally:
        callback = getattr(_after_call, "callback", None)
        if callback is not None:
            callback()


@contextmanager
def after_call(callback: Callable[[], None]) -> Iterator[None]:
    """Run `callback` when this thread next gives back a backend slot (see `backend_slot`)."""
    _after_call.callback = callback
    try:
        yield
    finally:
        _after_call.callback = None


def _lease_holder() -> str:
    """`<worker id>/<token>`: reaping a dead worker frees its leases by that prefix."""
    running = workers._consumers.get(get_settings().queue_url)
    owner = running.worker_id if running else f"{workers._HOST}:{os.getpid()}:-"
    return f"{owner}/{secrets.token_hex(4)}"


def _ensure_lease_rows(limit: int) -> None:
    url = get_settings().database_url
    if _lease_rows.get(url, 0) >= limit:
        return
    with session_scope() as session:
        existing = set(session.exec(select(BackendLease.slot).where(BackendLease.slot < limit)))
    for slot in range(limit):
        if slot not in existing:
            try:
                with session_scope() as session:
                    session.add(BackendLease(slot=slot))
            except IntegrityError:
                pass  # another process made it
    _lease_rows[url] = limit


def _acquire_lease(limit: int) -> tuple[int, str]:
    _ensure_lease_rows(limit)
    holder, delay = _lease_holder(), 0.02
    while True:
        now = utcnow()
        free = or_(col(BackendLease.holder).is_(None), col(BackendLease.expires_at) < now)
        # One statement: a free slot, skipping those another transaction is taking (PostgreSQL; SQLite has one
        # writer at a time), taken if it is still free. None when every slot is held, or a racer took it first.
        pick = (
            select(BackendLease.slot)
            .where(BackendLease.slot < limit, free)
            .order_by(col(BackendLease.slot))
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        with session_scope() as session:
            slot = session.exec(
                update(BackendLease)
                .where(col(BackendLease.slot) == pick, free)
                .values(holder=holder, expires_at=now + timedelta(seconds=LEASE_SECONDS))
                .returning(col(BackendLease.slot))
            ).scalar()
        if slot is not None:
            _leases[slot] = holder
            return slot, holder
        time.sleep(delay * random.uniform(0.5, 1.5))
        delay = min(delay * 1.5, 0.2)


def _release_lease(slot: int, holder: str) -> None:
    _leases.pop(slot, None)
    try:
        with session_scope() as session:
            session.exec(
                update(BackendLease)
                .where(col(BackendLease.slot) == slot, col(BackendLease.holder) == holder)
                .values(holder=None, expires_at=None)
            )
    except Exception:  # it expires by itself
        log.warning("Could not release backend lease %s", slot, exc_info=True)


def _renew_leases(now: datetime) -> None:
    holders = list(_leases.values())
    if holders:
        with session_scope() as session:
            session.exec(
                update(BackendLease)
                .where(col(BackendLease.holder).in_(holders))
                .values(expires_at=now + timedelta(seconds=LEASE_SECONDS))
            )
