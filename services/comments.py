"""The review thread of an image version: its decision history (services.versions.set_review writes it) and
comments by the people reviewing it. Comments are append-only, like decisions."""

from __future__ import annotations

from pydantic import field_validator
from sqlalchemy import func
from sqlalchemy import select as sql_select  # more columns than sqlmodel's typed select() takes
from sqlmodel import Session, col, select

from services.audit import AuditAction, record, version_target
from services.auth import require
from services.db import session_scope
from services.errors import ReshootError
from services.identity import Role
from services.models import Comment, ImageVersion, ReviewDecision, utcnow
from services.options import Options
from services.read_models.comments import CommentRead, DecisionRead, ThreadSummary, VersionThread
from services.storable_text import checked_text

MAX_COMMENT_LENGTH = 2000  # characters; a comment is a remark, not a document


def _version(session: Session, version_id: int) -> ImageVersion:
    version = session.get(ImageVersion, version_id) if isinstance(version_id, int) else None
    if version is None:
        raise ReshootError("VERSION_NOT_FOUND", 404, {"versionId": version_id}, "Image version not found")
    return version


class NewComment(Options):
    """A comment as stored: stripped, not empty, at most MAX_COMMENT_LENGTH characters, storable everywhere (each
    refusal a 400 INVALID_REQUEST on `body` with a message a page shows as it is)."""

    body: str

    @field_validator("body", mode="before")
    @classmethod
    def _clean(cls, body: object) -> str:
        body = checked_text(
            body.strip() if isinstance(body, str) else body,
            field="body",
            max_length=MAX_COMMENT_LENGTH,
            what="A comment",
        )
        if not body:
            raise ReshootError(
                "INVALID_REQUEST", 400, [{"field": "body", "message": "is empty"}], "The comment is empty."
            )
        return body


def add_comment(*, version_id: int, options: NewComment) -> CommentRead:
    """Add the signed-in person's comment to a version's thread (reviewers and admins)."""
    actor = require(Role.reviewer)
    body = options.body
    with session_scope() as session:
        version = _version(session, version_id)
        comment = Comment(
            version_id=version_id, author_email=actor.email, author_name=actor.name, body=body, at=utcnow()
        )
        session.add(comment)
        session.flush()
        record(
            session,
            action=AuditAction.comment,
            target=version_target(session, version),
            after={"commentId": comment.id, "body": body},
        )
        return CommentRead.model_validate(comment)


def list_comments(*, version_id: int) -> list[CommentRead]:
    """A version's comments, oldest first."""
    with session_scope() as session:
        _version(session, version_id)
        rows = session.exec(select(Comment).where(Comment.version_id == version_id).order_by(col(Comment.id)))
        return [CommentRead.model_validate(c) for c in rows]


def version_thread(*, version_id: int) -> VersionThread:
    """A version's decisions and comments, each oldest first (three queries)."""
    with session_scope() as session:
        _version(session, version_id)
        decisions = session.exec(
            select(ReviewDecision).where(ReviewDecision.version_id == version_id).order_by(col(ReviewDecision.id))
        )
        found = [DecisionRead.model_validate(d) for d in decisions]
        comments = session.exec(select(Comment).where(Comment.version_id == version_id).order_by(col(Comment.id)))
        return VersionThread(
            version_id=version_id, decisions=found, comments=[CommentRead.model_validate(c) for c in comments]
        )


def comment_counts(*, version_ids: list[int]) -> dict[int, int]:
    """How many comments each version has (0 for none); one query."""
    if not version_ids:
        return {}
    counts = dict.fromkeys(version_ids, 0)
    query = (
        select(Comment.version_id, func.count())
        .where(col(Comment.version_id).in_(version_ids))
        .group_by(col(Comment.version_id))
    )
    with session_scope() as session:
        counts.update({version_id: int(n) for version_id, n in session.exec(query)})
    return counts


def thread_summaries(*, version_ids: list[int]) -> dict[int, ThreadSummary]:
    """Per version: its latest decision (state, who, when, note) and its comment count; one query."""
    if not version_ids:
        return {}
    count = (
        select(func.count())
        .where(Comment.version_id == ImageVersion.id)
        .correlate(ImageVersion)
        .scalar_subquery()
        .label("comment_count")
    )
    query = sql_select(
        col(ImageVersion.id),
        col(ImageVersion.review_state),
        col(ImageVersion.reviewer),
        col(ImageVersion.reviewed_at),
        col(ImageVersion.review_note),
        count,
    ).where(col(ImageVersion.id).in_(version_ids))
    with session_scope() as session:
        return {
            row[0]: ThreadSummary(
                version_id=row[0],
                review_state=row[1],
                reviewer=row[2],
                reviewed_at=row[3],
                review_note=row[4],
                comment_count=int(row[5]),
            )
            for row in session.execute(query)
        }
