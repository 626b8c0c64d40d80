"""What the review thread of an image version reads: its comments, its decisions, and per-version summaries."""

from __future__ import annotations

from datetime import datetime

from services.read_models import ReadModel


class CommentRead(ReadModel):
    id: int
    version_id: int
    author_email: str
    author_name: str
    body: str
    at: datetime

    @property
    def author(self) -> str:
        return self.author_name or self.author_email


class DecisionRead(ReadModel):
    """One review decision (pending / approved / rejected) with who made it."""

    id: int
    version_id: int
    decision: str
    reviewer_email: str
    reviewer_name: str
    note: str | None
    at: datetime

    @property
    def reviewer(self) -> str:
        return self.reviewer_name or self.reviewer_email


class VersionThread(ReadModel):
    """A version's decision history (oldest first) and its comments (oldest first)."""

    version_id: int
    decisions: list[DecisionRead]
    comments: list[CommentRead]


class ThreadSummary(ReadModel):
    """What a card shows of a version's review: its latest decision and how many comments it has."""

    version_id: int
    review_state: str
    reviewer: str | None
    reviewed_at: datetime | None
    review_note: str | None
    comment_count: int
