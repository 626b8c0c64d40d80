"""Cleaning up after crashes: stable hero copies brought back to their current version, and orphan files swept.

An orphan is a file of ours that no row points at: a version file written before a crash kept its row from
committing (or whose row retention marked deleted while the delete failed), a reference file whose upload
never committed, a `.tmp-*` file a killed write left, a storage health probe. Only files older than a grace
period are swept, so a version being written right now (file first, row a moment later) is never touched;
keys that are not recognisably ours (anything an operator put in the bucket) are never touched either.

Runs by `python -m services gc`, and at every worker start and then every RESHOOT_GC_INTERVAL_SECONDS in a
background thread (`start_maintenance`).
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from services.config import get_settings
from services.db import session_scope
from services.errors import ReshootError
from services.models import ImageVersion, Reference
from services.storage import TEMP_PREFIX, LocalStorage, Storage, StoredObject, get_storage
from services.versions import reconcile_stable_copies

log = logging.getLogger("reshoot.sweeper")

# What our writers name files (services.versions.versioned_key, services.lifestyle.add_references, status probes).
_VERSION_FILE = re.compile(r"\.v\d+-[0-9a-f]+\.(thumb\.webp|[A-Za-z0-9]+)$")
_REFERENCE_FILE = re.compile(r"(^|/)ref_[0-9a-f]+\.(thumb\.webp|[A-Za-z0-9]+)$")
_PROBE_FILE = re.compile(r"^health/probe-[0-9a-f]+\.txt$")


@dataclass
class SweepReport:
    republished: list[int] = field(default_factory=list)  # plan rows whose stable copy was behind
    deleted: list[str] = field(default_factory=list)  # orphan keys removed (or, in a dry run, that would be)
    young: int = 0  # orphan-looking files left alone because they are inside the grace period

    def to_json(self) -> dict:
        return {"ok": True, "republished": self.republished, "deleted": self.deleted, "young": self.young}


def _candidates(storage: Storage) -> list[StoredObject]:
    if isinstance(storage, LocalStorage):
        return list(storage.objects(include_temp=True))
    return list(storage.objects())


def _is_ours(key: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    return name.startswith(TEMP_PREFIX) or bool(
        _VERSION_FILE.search(key) or _REFERENCE_FILE.search(key) or _PROBE_FILE.match(key)
    )


def _referenced_keys() -> set[str]:
    """Every key a row points at (read after listing, so a row committed meanwhile still protects its file)."""
    with session_scope() as session:
        versions = session.exec(
            select(ImageVersion.storage_key, ImageVersion.thumb_key).where(col(ImageVersion.file_deleted).is_(False))
        ).all()
        references = session.exec(select(Reference.storage_key, Reference.thumb_key)).all()
    return {key for pair in (*versions, *references) for key in pair if key}


def find_orphans(*, grace_seconds: float | None = None) -> tuple[list[str], int]:
    """(orphan keys older than the grace period, how many orphan-looking files are younger)."""
    grace = get_settings().gc_grace_seconds if grace_seconds is None else grace_seconds
    storage = get_storage()
    cutoff = datetime.now(UTC) - timedelta(seconds=grace)
    found = [o for o in _candidates(storage) if _is_ours(o.key)]
    referenced = _referenced_keys()
    orphans = [o for o in found if o.key not in referenced]
    old = sorted(o.key for o in orphans if o.modified <= cutoff)
    return old, len(orphans) - len(old)


def sweep(*, grace_seconds: float | None = None, dry_run: bool = False) -> SweepReport:
    """Republish stale stable copies, then delete orphan files older than the grace period."""
    report = SweepReport()
    if not dry_run:
        report.republished = reconcile_stable_copies()
    report.deleted, report.young = find_orphans(grace_seconds=grace_seconds)
    if not dry_run:
        storage = get_storage()
        for key in report.deleted:
            storage.delete(key)
    if report.republished or report.deleted:
        log.info(
            "Sweep: %d stable copies republished, %d orphan files %s",
            len(report.republished),
            len(report.deleted),
            "found" if dry_run else "deleted",
        )
    return report


_maintenance_lock = threading.Lock()
_maintenance: dict[str, threading.Event] = {}  # database URL -> stop flag of its running maintenance thread


def start_maintenance() -> None:
    """The worker start hook: sweep now and then every RESHOOT_GC_INTERVAL_SECONDS, in a daemon thread (one per
    database per process). Failures are logged and tried again next round."""
    url = get_settings().database_url
    with _maintenance_lock:
        if url in _maintenance:
            return
        stop = _maintenance[url] = threading.Event()
    threading.Thread(target=_maintenance_loop, args=(url, stop), name="reshoot-sweeper", daemon=True).start()


def stop_maintenance() -> None:
    with _maintenance_lock:
        for stop in _maintenance.values():
            stop.set()
        _maintenance.clear()


def _maintenance_loop(url: str, stop: threading.Event) -> None:
    while not stop.is_set():
        if get_settings().database_url != url:
            return  # settings changed under this thread (tests): it must not touch another database
        try:
            sweep()
        except ReshootError as e:  # storage or database misconfigured: the message says what to set
            log.warning("Sweeping orphan files failed: %s", e.message)
        except Exception:
            log.exception("Sweeping orphan files failed; trying again in %.0f s", get_settings().gc_interval_seconds)
        stop.wait(get_settings().gc_interval_seconds)
