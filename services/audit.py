"""The audit trail: every change appends one `audit` row (who, when, action, target, before → after).

Use cases call `record(session, ...)` with the session that makes the change, so the row commits or rolls back
with it; the actor is `current_actor()` (a job's handler runs as the person who requested the job). Rows are
never updated or deleted. The queries below page in SQL for the Activity page, its CSV export and the short
histories shown beside a hero or a sentence.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, or_
from sqlmodel import Session, col, select

from services.db import execute, session_scope
from services.enums import AuditTargetKind, TargetKind
from services.identity import Actor, current_actor
from services.models import AuditEntry, ExportPlanRow, ImageVersion, Sentence, Shot, iso, utcnow
from services.options import Options
from services.read_models.audit import ActivityEntry, ActivityPage

MAX_PAGE_SIZE = 500
CSV_ROW_LIMIT = 100_000  # an export larger than this is cut (the page says so); narrow the filters instead
CSV_COLUMNS = (
    "at",
    "actor_email",
    "actor_name",
    "action",
    "target_kind",
    "target_id",
    "work_item_id",
    "shot_id",
    "size_label",
    "sentence_id",
    "project_id",
    "before",
    "after",
)


class AuditAction(StrEnum):
    generate_heroes = "heroes.generate"
    regenerate_sentence_image = "sentence.regenerate"
    edit_prompt = "sentence.prompt"
    upload_references = "reference.upload"
    delete_reference = "reference.delete"
    lock_shot = "shot.lock"
    edit_shot_prompt = "shot.prompt"
    set_shot_seed = "shot.seed"
    new_version = "version.create"
    remove_version_files = "version.retention"
    review = "version.review"
    comment = "version.comment"
    favourite = "version.favourite"
    lock_version = "version.lock"
    restore_version = "version.restore"
    retry_job = "job.retry"
    import_data = "data.import"
    sign_in = "user.sign_in"
    add_user = "user.add"
    set_role = "user.role"
    disable_user = "user.disable"
    create_token = "token.create"
    revoke_token = "token.revoke"
    set_preference = "user.preference"

    @property
    def label(self) -> str:
        return ACTION_LABELS[self]


ACTION_LABELS = {
    AuditAction.generate_heroes: "Generate heroes",
    AuditAction.regenerate_sentence_image: "Regenerate image",
    AuditAction.edit_prompt: "Edit prompt",
    AuditAction.upload_references: "Upload references",
    AuditAction.delete_reference: "Delete reference",
    AuditAction.lock_shot: "Lock shot",
    AuditAction.edit_shot_prompt: "Edit hero prompt",
    AuditAction.set_shot_seed: "Set shot seed",
    AuditAction.new_version: "New version",
    AuditAction.remove_version_files: "Remove old files",
    AuditAction.review: "Review",
    AuditAction.comment: "Comment",
    AuditAction.favourite: "Favourite",
    AuditAction.lock_version: "Lock version",
    AuditAction.restore_version: "Restore version",
    AuditAction.retry_job: "Retry job",
    AuditAction.import_data: "Import",
    AuditAction.sign_in: "First sign-in",
    AuditAction.add_user: "Add user",
    AuditAction.set_role: "Change role",
    AuditAction.disable_user: "Disable or enable user",
    AuditAction.create_token: "Create API token",
    AuditAction.revoke_token: "Revoke API token",
    AuditAction.set_preference: "Change preference",
}


@dataclass(frozen=True)
class Target:
    """What a change is about, and where it sits (so a hero's or a sentence's history finds it)."""

    kind: AuditTargetKind
    id: str = ""
    work_item_id: str | None = None
    shot_id: str | None = None
    size_label: str | None = None
    sentence_id: str | None = None
    project_id: str | None = None


def record(
    session: Session,
    *,
    action: AuditAction,
    target: Target,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one row in `session` (the transaction that makes the change)."""
    entry = _audit_row(current_actor(), action, target, before, after)
    session.add(entry)
    return entry


def _audit_row(
    actor: Actor, action: AuditAction, target: Target, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> AuditEntry:
    return AuditEntry(**_audit_values(actor, action, target, before, after))


def _audit_values(
    actor: Actor, action: AuditAction, target: Target, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> dict[str, Any]:
    """An audit row's columns but its id and time."""
    return {
        "actor_email": actor.email,
        "actor_name": actor.name,
        "action": str(action),
        "target_kind": target.kind,
        "target_id": str(target.id),
        "work_item_id": target.work_item_id,
        "shot_id": target.shot_id,
        "size_label": target.size_label,
        "sentence_id": target.sentence_id,
        "project_id": target.project_id,
        "before": before,
        "after": after,
    }


AuditRow = tuple[AuditAction, Target, dict[str, Any] | None, dict[str, Any] | None]  # action, target, before, after


_INSERT_ROWS = insert(AuditEntry)


def record_many(session: Session, entries: list[AuditRow]) -> None:
    """Append one row per (action, target, before, after) in `session`, as one statement (a shot's new versions:
    one INSERT, not one per size), written from the columns' values (a model object per row cost more to build
    than the row to write)."""
    if not entries:
        return
    actor = current_actor()
    execute(session, _INSERT_ROWS, [{"at": utcnow(), **_audit_values(actor, *entry)} for entry in entries])


def version_target(session: Session, version: ImageVersion) -> Target:
    """A version, placed at its hero (work item, shot, size) or its sentence."""
    if version.target_kind == TargetKind.hero:
        row = session.get(ExportPlanRow, int(version.target_id))
        shot = session.get(Shot, row.shot_pk) if row else None
        return Target(
            AuditTargetKind.version,
            str(version.id),
            work_item_id=row.work_item_id if row else None,
            shot_id=shot.shot_id if shot else None,
            size_label=row.size_label if row else None,
        )
    sentence = session.get(Sentence, version.target_id)
    return Target(
        AuditTargetKind.version,
        str(version.id),
        sentence_id=version.target_id,
        project_id=sentence.project_id if sentence else None,
    )


# --- Reading -------------------------------------------------------------------------------------------


class ActivityFilter(Options):
    """Which changes the Activity page and its CSV export show (all given filters apply)."""

    actor_email: str | None = None
    actions: tuple[AuditAction, ...] = ()
    work_item_id: str | None = None
    since: date | None = None  # inclusive, UTC days
    until: date | None = None  # inclusive


def _entry(row: AuditEntry) -> ActivityEntry:
    return ActivityEntry.model_validate(row, from_attributes=True)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _filtered(where: ActivityFilter) -> Any:
    query = select(AuditEntry)
    if where.actor_email:
        query = query.where(AuditEntry.actor_email == where.actor_email)
    if where.actions:
        query = query.where(col(AuditEntry.action).in_([str(a) for a in where.actions]))
    if where.work_item_id:
        query = query.where(AuditEntry.work_item_id == where.work_item_id)
    if where.since:
        query = query.where(AuditEntry.at >= _day_start(where.since))
    if where.until:
        query = query.where(AuditEntry.at < _day_start(where.until + timedelta(days=1)))
    return query.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())


def list_activity(where: ActivityFilter = ActivityFilter(), *, page: int = 1, page_size: int = 50) -> ActivityPage:
    """One page of changes, newest first: one query (a row more than the page says whether another follows)."""
    page, page_size = max(1, int(page)), max(1, min(int(page_size), MAX_PAGE_SIZE))
    query = _filtered(where).offset((page - 1) * page_size).limit(page_size + 1)
    with session_scope() as session:
        rows = [_entry(r) for r in session.exec(query)]
    return ActivityPage(entries=rows[:page_size], page=page, page_size=page_size, has_more=len(rows) > page_size)


def actors() -> list[tuple[str, str]]:
    """(email, latest name) of everyone who changed something, by email."""
    with session_scope() as session:
        rows = session.exec(
            select(AuditEntry.actor_email, AuditEntry.actor_name).distinct().order_by(AuditEntry.actor_email)
        )
        names: dict[str, str] = {}
        for email, name in rows:
            names[email] = name or names.get(email, "")
    return list(names.items())


def activity_csv(where: ActivityFilter = ActivityFilter(), *, limit: int = CSV_ROW_LIMIT) -> Iterator[str]:
    """The filtered changes as CSV text, in chunks of a few hundred rows, at most `limit` rows (a server-side
    cursor on PostgreSQL; memory stays bounded by the chunk)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    with session_scope() as session:
        result = session.exec(_filtered(where).limit(limit).execution_options(yield_per=500))
        for n, row in enumerate(result, start=1):
            writer.writerow(
                [
                    iso(row.at),
                    row.actor_email,
                    row.actor_name,
                    row.action,
                    row.target_kind,
                    row.target_id,
                    row.work_item_id or "",
                    row.shot_id or "",
                    row.size_label or "",
                    row.sentence_id or "",
                    row.project_id or "",
                    _json(row.before),
                    _json(row.after),
                ]
            )
            if n % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


def _json(value: dict[str, Any] | None) -> str:
    return "" if value is None else json.dumps(value, default=str, ensure_ascii=False)


def hero_history(
    work_item_id: str, shot_id: str, size_label: str | None = None, *, limit: int = 10
) -> list[ActivityEntry]:
    """A shot's recent changes (with `size_label`: those of that size and of the whole shot), newest first."""
    query = select(AuditEntry).where(AuditEntry.work_item_id == work_item_id, AuditEntry.shot_id == shot_id)
    if size_label:
        query = query.where(or_(col(AuditEntry.size_label).is_(None), col(AuditEntry.size_label) == size_label))
    with session_scope() as session:
        rows = session.exec(query.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc()).limit(limit))
        return [_entry(r) for r in rows]


def sentence_history(sentence_id: str, *, limit: int = 10) -> list[ActivityEntry]:
    query = select(AuditEntry).where(AuditEntry.sentence_id == sentence_id)
    with session_scope() as session:
        rows = session.exec(query.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc()).limit(limit))
        return [_entry(r) for r in rows]
