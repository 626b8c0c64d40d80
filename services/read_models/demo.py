"""What loading the demo set did."""

from __future__ import annotations

from services.read_models.imports import ImportSummary


class DemoLoaded(ImportSummary):
    """The import's summary, and the jobs queued to make the demo's missing images (none when all exist)."""

    job_ids: list[str]
