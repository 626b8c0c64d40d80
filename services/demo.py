"""The committed demo set (data/demo/): work items with Lifestyle Packs and a storyboard project."""

from __future__ import annotations

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
    """Import the demo set (idempotent: a second run changes nothing) and return the import summary."""
    summary = import_file(DEMO_FILE)
    # Image generation for the demo (`_generate_demo_images()`, via services.lifestyle / services.storyboard)
    # is added once those use cases exist; until then `generate_images` adds nothing.
    return summary


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
