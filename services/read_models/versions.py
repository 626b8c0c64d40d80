"""Read models of image versions: every generated image of a hero target or a sentence, with how it was made, its
review state and whether its target shows it now.

Every key is the camelCase of its field (`thumbUrl`, `seedHonoured`, `isCurrent`), in the order the JSON has always
had them.
"""

from __future__ import annotations

from services.enums import ReviewState, TargetKind
from services.read_models import ReadModel, UtcDatetime


class VersionPublic(ReadModel):
    """One image version. `url`/`thumbUrl` are None once retention removed its file (`fileDeleted`); the row stays as
    history. `isCurrent`: its target (hero or sentence) points at it."""

    id: int
    target_kind: TargetKind
    target_id: str  # an export plan row id (as text) or a sentence id
    version: int
    url: str | None
    thumb_url: str | None
    storage_key: str
    width: int
    height: int
    prompt: str
    seed: int | None
    seed_honoured: bool  # False: the backend ignored the seed (it was asked for, not used)
    backend: str
    model: str | None
    references: list[str]  # the reference ids sent with the prompt
    job_id: str | None
    created_at: UtcDatetime
    favourite: bool  # retention never deletes a favourite
    locked: bool  # never deleted, and while current never replaced by generation
    file_deleted: bool
    review_state: ReviewState
    reviewer: str | None  # who made the newest decision
    review_note: str | None
    reviewed_at: UtcDatetime | None
    is_current: bool


class ListedVersion(VersionPublic):
    """A version in its target's list, with who asked for it (the requester of the job that made it, if known)."""

    created_by: str | None
