"""The review queue and bulk decisions: what to filter by (an options model) and what comes back (read models)."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, Field, field_validator

from services.enums import ReviewState
from services.read_models import ReadModel

MAX_BULK_VERSIONS = 5000  # explicit ids in one decision; "all pending in a work item / SKU" has no such cap


class ReviewQueueFilter(ReadModel):
    """Which current hero images the queue holds: a review state (pending by default), optionally one work item,
    one SKU, one size label, one backend (each an exact match; blank means any)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state: ReviewState = ReviewState.pending
    work_item_id: str | None = Field(default=None, max_length=64)
    sku: str | None = Field(default=None, max_length=128)
    size_label: str | None = Field(default=None, max_length=32)
    backend: str | None = Field(default=None, max_length=32)

    @field_validator("work_item_id", "sku", "size_label", "backend", mode="before")
    @classmethod
    def _blank_is_any(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip() or None
        return value


class QueueCursor(ReadModel):
    """A place in the queue's order (oldest first): the image's creation time, then its version id."""

    model_config = ConfigDict(frozen=True)

    created_at: datetime
    version_id: int


class QueuedHero(ReadModel):
    """One current hero image in the queue, with where it belongs and how it was made."""

    version_id: int
    version: int
    row_id: int  # the export plan row (hero target)
    work_item_id: str
    work_item_title: str
    shot_id: str
    sku: str
    size_label: str
    width: int
    height: int
    filename: str
    url: str | None
    thumb_url: str | None
    prompt: str
    seed: int | None
    seed_honoured: bool
    backend: str
    model: str | None
    references: list[str]
    created_at: datetime
    review_state: ReviewState
    previous_version_id: int | None = None  # the version before this one, if its file is kept (to compare with)

    @property
    def cursor(self) -> QueueCursor:
        return QueueCursor(created_at=self.created_at, version_id=self.version_id)


class BulkDecisionResult(ReadModel):
    """What `decide_many` decided: the versions (in the queue's order) and the state they now have."""

    state: ReviewState
    note: str | None
    version_ids: list[int]
    work_item_ids: list[str]

    @property
    def count(self) -> int:
        return len(self.version_ids)
