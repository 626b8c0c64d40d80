"""The committed demo set (data/demo/): work items with Lifestyle Packs and a storyboard project."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from services.config import PROJECT_ROOT, get_settings
from services.db import session_scope
from services.errors import ReshootError
from services.importer import import_file
from services.jobs import get_jobs
from services.models import Project, WorkItem
from services.read_models.demo import DemoLoaded
from services.storage import get_storage

log = logging.getLogger("reshoot.demo")
DEMO_DIR = PROJECT_ROOT / "data" / "demo"
DEMO_FILE = DEMO_DIR / "demo.json"


_render_jobs: list[str] = []  # this process's demo image jobs, for `demo_render_progress`


@dataclass(frozen=True)
class RenderProgress:
    """Images the demo's jobs have made (`done`) of those they make (`total`), while any of them runs; `loading`
    while the demo set itself is being imported (before its jobs exist)."""

    done: int
    total: int
    loading: bool = False


_loading = threading.Event()
DEMO_PROBE_KEY = "fcc/lifestyle/.demo-probe"  # a key looked up (never written) to check storage before loading


def load_demo_in_background() -> threading.Thread | None:
    """`ensure_demo_loaded()` in a thread, so a fresh server's first page shows at once (and says it is loading)."""
    if not _database_is_empty():
        return None
    # The demo's files go to storage: a storage setting that cannot work (no S3 credentials) is raised here, in
    # the caller, which says which variable to set, rather than only logged by the thread.
    get_storage().exists(DEMO_PROBE_KEY)
    _loading.set()
    thread = threading.Thread(target=_load_in_background, name="reshoot-demo-load", daemon=True)
    thread.start()
    return thread


_load_failures: dict[str, ReshootError] = {}  # database URL -> why its background load failed, for the pages to say


def _load_in_background() -> None:
    try:
        ensure_demo_loaded()
        _load_failures.pop(get_settings().database_url, None)
    except Exception as e:
        from services.operator_errors import plain_error

        plain = plain_error(e)
        if plain is None:
            log.exception("Loading the demo set failed; run `python -m services demo` to see why")
        else:  # a wrong setting: every page says which (dashboard.py), instead of a silently empty list
            log.warning("Loading the demo set failed: %s", plain.message)
            _load_failures[get_settings().database_url] = plain
    finally:
        _loading.clear()


def demo_load_failure() -> ReshootError | None:
    """Why loading the demo set in the background failed (a wrong setting's plain sentence), or None."""
    return _load_failures.get(get_settings().database_url)


def load_demo(*, generate_images: bool = True) -> DemoLoaded:
    """Import the demo set and queue jobs for its missing images; idempotent (a second run changes nothing)."""
    summary = import_file(DEMO_FILE)
    job_ids = _generate_demo_images() if generate_images else []
    _render_jobs[:] = job_ids
    return DemoLoaded(**dict(summary), job_ids=job_ids)


def demo_render_progress() -> RenderProgress | None:
    """How far the demo's images are while its jobs (those this process queued) run; None once none is queued or
    running. One query."""
    if _loading.is_set():
        return RenderProgress(done=0, total=0, loading=True)
    if not _render_jobs:
        return None
    found = get_jobs(_render_jobs).values()
    if not any(job.active for job in found):
        _render_jobs.clear()  # done: no more queries
        return None
    planned = [max(job.progress_total, 1) for job in found]
    made = [n if not job.active else min(job.progress_done, n) for job, n in zip(found, planned, strict=True)]
    return RenderProgress(done=sum(made), total=sum(planned))


def _demo_seed(sentence_id: str) -> int:
    """The same seed on every machine, so a fresh demo shows the same pictures."""
    return int(hashlib.sha256(sentence_id.encode()).hexdigest()[:8], 16) % 2**31


def _generate_demo_images() -> list[str]:
    """Queue hero and sentence images of the demo set that do not exist yet; returns the job ids to wait for."""
    from services import lifestyle, storyboard

    document = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    job_ids: list[str] = []
    for item in document.get("workItems", []):
        if "lifestylePack" not in item:
            continue
        preview = lifestyle.generate_lifestyle_heroes(
            work_item_id=item["id"], options=lifestyle.GenerateHeroesOptions(dry_run=True)
        )
        if isinstance(preview, lifestyle.HeroesResult) and preview.generated:  # a dry run answers the result
            job_ids.append(lifestyle.start_heroes_job(work_item_id=item["id"]).job_id)
    for project in document.get("projects", []):
        for sentence in storyboard.list_sentences(project["id"]):
            if (sentence.image_prompt or "").strip() and not sentence.image_file:
                options = storyboard.RegenerateImageOptions(seed=_demo_seed(sentence.id))
                job_ids.append(
                    sentence.active_job_id
                    or storyboard.regenerate_sentence_image(sentence_id=sentence.id, options=options).job_id
                )
    return job_ids


def _database_is_empty() -> bool:
    with session_scope() as session:
        query = select(select(WorkItem.id).exists() | select(Project.id).exists())
        return not session.exec(query).one()


def ensure_demo_loaded(*, generate_images: bool = True) -> DemoLoaded | None:
    """Load the demo set into an empty database (one query when there is already data); None if not loaded."""
    if not _database_is_empty():
        return None
    try:
        return load_demo(generate_images=generate_images)
    except IntegrityError:
        # Another process loaded it at the same moment; its rows are the same rows.
        if _database_is_empty():
            raise
        return None
