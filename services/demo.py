"""The committed demo set (data/demo/): work items with Lifestyle Packs and a storyboard project."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from services.config import PROJECT_ROOT
from services.db import session_scope
from services.importer import import_file
from services.models import Project, WorkItem

DEMO_DIR = PROJECT_ROOT / "data" / "demo"
DEMO_FILE = DEMO_DIR / "demo.json"


def load_demo(*, generate_images: bool = True) -> dict[str, Any]:
    """Import the demo set and queue jobs for its missing images; idempotent (a second run changes nothing).

    Returns the import summary plus `jobIds`: the jobs that make the missing images (none when all exist)."""
    summary = import_file(DEMO_FILE)
    summary["jobIds"] = _generate_demo_images() if generate_images else []
    return summary


def _demo_seed(sentence_id: str) -> int:
    """The same seed on every machine, so a fresh demo shows the same pictures."""
    return int(hashlib.sha256(sentence_id.encode()).hexdigest()[:8], 16) % 2**31


def _generate_demo_images() -> list[str]:
    """Queue hero and sentence images of the demo set that do not exist yet; returns the job ids to wait for."""
    from services import lifestyle, storyboard

    document = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    job_ids: list[str] = []
    for item in document.get("workItems", []):
        if "lifestylePack" in item and lifestyle.generate_lifestyle_heroes(item["id"], dry_run=True)["generated"]:
            job_ids.append(lifestyle.generate_lifestyle_heroes(item["id"])["jobId"])
    for project in document.get("projects", []):
        for sentence in storyboard.list_sentences(project["id"]):
            if (sentence["imagePrompt"] or "").strip() and not sentence["imageFile"]:
                seed = _demo_seed(sentence["id"])
                job_ids.append(sentence["activeJobId"] or storyboard.regenerate_sentence_image(sentence["id"], seed=seed)["jobId"])
    return job_ids


def _database_is_empty() -> bool:
    with session_scope() as session:
        query = select(select(WorkItem.id).exists() | select(Project.id).exists())
        return not session.exec(query).one()


def ensure_demo_loaded(*, generate_images: bool = True) -> dict[str, Any] | None:
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
