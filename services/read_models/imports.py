"""What an import did (services.importer), as the CLI prints it and the Settings page says it."""

from __future__ import annotations

from services.read_models import ReadModel


class ImportCounts(ReadModel):
    """Rows of each kind an import created, updated or found unchanged."""

    work_items: int = 0
    lifestyle_packs: int = 0
    shots: int = 0
    export_plan_rows: int = 0
    projects: int = 0
    cast_members: int = 0
    sections: int = 0
    sentences: int = 0


class ImportSummary(ReadModel):
    """`{"ok": true, "changed": …, "created": {kind: n}, "updated": …, "unchanged": …, "keptImagePrompts": [ids]}`:
    keptImagePrompts are the sentences whose image prompt in the database (maybe a reviewer's edit) was kept."""

    ok: bool = True
    changed: bool
    created: ImportCounts
    updated: ImportCounts
    unchanged: ImportCounts
    kept_image_prompts: list[str]
