"""SQLModel tables: work items and their Lifestyle Pack, storyboards, image versions, jobs and events."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, Protocol, overload

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint, func, text
from sqlmodel import Field, SQLModel

from services.enums import JobStatus, ReviewState, Role


def utcnow() -> datetime:
    """Aware UTC: SQLModel's UTCDateTime columns refuse naive datetimes (and return aware ones)."""
    return datetime.now(UTC)


@overload
def iso(value: datetime) -> str: ...
@overload
def iso(value: datetime | None) -> str | None: ...
def iso(value: datetime | None) -> str | None:
    """`2026-01-17T09:30:00.123456Z` for JSON; naive values are taken as UTC."""
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")


class _Numbered(Protocol):
    @property
    def id(self) -> int | None: ...


def stored_id(row: _Numbered) -> int:
    """The id of a row read from the database (or flushed to it): only a row never flushed has none."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id yet: it was never flushed")
    return row.id


def new_id(prefix: str) -> str:
    """A short random id with the spec's prefix, e.g. `ref_3f9a1c0b2d4e`."""
    return f"{prefix}_{secrets.token_hex(6)}"


# --- Work items and the Lifestyle Pack -----------------------------------------------------------


class WorkItem(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    title: str = Field(index=True)
    status: str = Field(default="open", index=True, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)


# The work item list's order (numeric ids in natural order): lets a first page stop after its rows.
Index("ix_workitem_order", func.length(WorkItem.id), WorkItem.id)


class LifestylePack(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    work_item_id: str = Field(foreign_key="workitem.id", unique=True, index=True, max_length=64)
    version: str = Field(default="v2", max_length=16)
    created_at: datetime = Field(default_factory=utcnow)


class Shot(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("work_item_id", "shot_id"),)

    id: int | None = Field(default=None, primary_key=True)
    pack_id: int = Field(foreign_key="lifestylepack.id", index=True)
    work_item_id: str = Field(foreign_key="workitem.id", index=True, max_length=64)
    shot_id: str = Field(max_length=64)  # "OL-1"
    sku: str = Field(index=True, max_length=128)
    prompt: str = ""
    position: int = 0
    locked: bool = False
    focal_x: float = 0.5  # crop centre for export sizes, 0..1 of the master's width
    focal_y: float = 0.5
    # The seed the shot's next generations use (recalled from an earlier version); None: a new random one each time.
    seed: int | None = Field(default=None, sa_column=Column(BigInteger))
    # The prompt was edited after the current heroes were made from it (cleared when they are made again).
    heroes_dirty: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})


class ExportPlanRow(SQLModel, table=True):
    """One hero target: a shot at one size, stored at `filename` (a storage key)."""

    __table_args__ = (UniqueConstraint("shot_pk", "size_label"),)

    id: int | None = Field(default=None, primary_key=True)
    shot_pk: int = Field(foreign_key="shot.id", index=True)
    work_item_id: str = Field(foreign_key="workitem.id", index=True, max_length=64)
    size_label: str = Field(max_length=32)  # a SizeLabel, or another size an imported plan names
    width: int
    height: int
    filename: str = Field(unique=True, max_length=512)
    current_version_id: int | None = Field(default=None, foreign_key="imageversion.id", index=True)
    # The version whose bytes the stable `filename` holds (services.versions.publish_current); differs from
    # current_version_id only between a pointer move and its publish, which reconcile_stable_copies() repairs.
    published_version_id: int | None = None
    position: int = 0


class Reference(SQLModel, table=True):
    # One row per image per shot, whoever uploads it how often at once; also the index of a shot's references.
    __table_args__ = (Index("uq_reference_shot_sha256", "work_item_id", "shot_id", "sha256", unique=True),)

    id: str = Field(default_factory=lambda: new_id("ref"), primary_key=True, max_length=64)
    work_item_id: str = Field(foreign_key="workitem.id", index=True, max_length=64)
    shot_id: str = Field(max_length=64)
    storage_key: str = Field(max_length=512)
    thumb_key: str | None = Field(default=None, max_length=512)
    filename: str = Field(max_length=255)  # as uploaded; shown, never used as a path
    content_type: str = Field(max_length=64)
    width: int
    height: int
    sha256: str = Field(index=True, max_length=64)
    uploaded_by: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(default_factory=utcnow)


# --- Storyboards -----------------------------------------------------------------------------------


class Project(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    title: str
    created_at: datetime = Field(default_factory=utcnow)


class CastMember(SQLModel, table=True):
    id: str = Field(default_factory=lambda: new_id("cast"), primary_key=True, max_length=64)
    project_id: str = Field(foreign_key="project.id", index=True, max_length=64)
    name: str
    reference_images: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # storage keys
    style_lora: str | None = None
    position: int = 0


class Section(SQLModel, table=True):
    id: str = Field(default_factory=lambda: new_id("sec"), primary_key=True, max_length=64)
    project_id: str = Field(foreign_key="project.id", index=True, max_length=64)
    title: str
    position: int = 0


class Sentence(SQLModel, table=True):
    id: str = Field(default_factory=lambda: new_id("sent"), primary_key=True, max_length=64)
    section_id: str = Field(foreign_key="section.id", index=True, max_length=64)
    project_id: str = Field(foreign_key="project.id", index=True, max_length=64)
    position: int = 0
    text: str = ""
    image_prompt: str | None = None
    current_version_id: int | None = Field(default=None, foreign_key="imageversion.id", index=True)
    seed: int | None = Field(default=None, sa_column=Column(BigInteger))
    is_image_dirty: bool = True
    is_video_dirty: bool = True
    updated_at: datetime = Field(default_factory=utcnow)


# --- Generated images, jobs, events ---------------------------------------------------------------


class ImageVersion(SQLModel, table=True):
    """One generated image for a target: an export plan row (`hero`) or a sentence (`sentence`)."""

    __table_args__ = (
        UniqueConstraint("target_kind", "target_id", "version"),
        Index("ix_imageversion_target", "target_kind", "target_id"),
        Index("ix_imageversion_review_queue", "review_state", "created_at", "id"),  # the review queue's order
    )

    id: int | None = Field(default=None, primary_key=True)
    target_kind: str = Field(max_length=16)  # a TargetKind
    target_id: str = Field(max_length=64)  # ExportPlanRow.id as text, or Sentence.id
    version: int
    storage_key: str = Field(max_length=512)
    thumb_key: str | None = Field(default=None, max_length=512)
    width: int
    height: int
    prompt: str = ""
    seed: int | None = Field(default=None, sa_column=Column(BigInteger))
    # False: the backend ignores seeds (OpenAI): `seed` was asked for, not used. Rows written without it count as used.
    seed_honoured: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    backend: str = Field(max_length=32)
    model: str | None = Field(default=None, max_length=64)
    references: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    job_id: str | None = Field(default=None, index=True, max_length=64)  # no FK: jobs point at sentences
    created_at: datetime = Field(default_factory=utcnow)
    favourite: bool = False
    locked: bool = False
    file_deleted: bool = False  # retention removed the file; the row stays as history
    review_state: str = Field(default=ReviewState.pending, index=True, max_length=16)
    reviewer: str | None = Field(default=None, max_length=128)
    review_note: str | None = None
    reviewed_at: datetime | None = None


class Job(SQLModel, table=True):
    __table_args__ = (
        # At most one queued/running job per target: a second request gets the first job back.
        Index(
            "uq_job_active_target",
            "target_key",
            unique=True,
            sqlite_where=text("status IN ('queued', 'running')"),
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
    )

    id: str = Field(default_factory=lambda: new_id("job"), primary_key=True, max_length=64)
    kind: str = Field(index=True, max_length=32)  # a JobKind
    target_key: str = Field(index=True, max_length=255)
    work_item_id: str | None = Field(default=None, foreign_key="workitem.id", index=True, max_length=64)
    sentence_id: str | None = Field(default=None, foreign_key="sentence.id", index=True, max_length=64)
    project_id: str | None = Field(default=None, foreign_key="project.id", index=True, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=JobStatus.queued, index=True, max_length=16)
    progress_done: int = 0
    progress_total: int = 0
    message: str = ""
    error_code: str | None = Field(default=None, max_length=64)
    error_detail: str | None = None
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    attempts: int = 0
    worker_id: str | None = Field(default=None, max_length=128)
    requested_by: str | None = Field(default=None, max_length=128)
    # What the request found at enqueue time and the handler needs to sum up (e.g. skipped and missing shots).
    plan: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # Units another job was already generating, which this job waits for instead: [{"shot_id", "jobId"}].
    joined: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    created_at: datetime = Field(default_factory=utcnow, index=True)
    started_at: datetime | None = None
    heartbeat_at: datetime | None = None
    finished_at: datetime | None = None


class GenerationClaim(SQLModel, table=True):
    """One unit of generation (a shot's heroes, a sentence's image): the queue task, and the database's guarantee
    that one unit is generated by one worker at a time (one queued/running claim per target)."""

    __table_args__ = (
        Index(
            "uq_claim_active_target",
            "target_key",
            unique=True,
            sqlite_where=text("status IN ('queued', 'running')"),
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
        Index("ix_claim_work_item_status", "work_item_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(foreign_key="job.id", index=True, max_length=64)  # the job that made it; its params drive it
    kind: str = Field(max_length=32)  # a JobKind
    target_key: str = Field(index=True, max_length=255)  # "hero:7:OL-1", "sentence:sent_001"
    subject: str = Field(max_length=64)  # the shot id or the sentence id
    work_item_id: str | None = Field(default=None, max_length=64)
    weight: int = 1  # progress units (images) it stands for
    status: str = Field(default=JobStatus.queued, index=True, max_length=16)  # a JobStatus
    worker_id: str | None = Field(default=None, index=True, max_length=128)
    attempts: int = 0
    outcome: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    error_code: str | None = Field(default=None, max_length=64)
    message: str = ""
    error_detail: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    heartbeat_at: datetime | None = None
    finished_at: datetime | None = None


class JobClaim(SQLModel, table=True):
    """Which claims a job waits for: its own (`joined` false) and those of other jobs it joined."""

    job_id: str = Field(foreign_key="job.id", primary_key=True, max_length=64)
    claim_id: int = Field(foreign_key="generationclaim.id", primary_key=True, index=True)
    joined: bool = False
    position: int = 0  # the unit's place in the request (results list shots in request order)


class BackendLease(SQLModel, table=True):
    """One of RESHOOT_BACKEND_CONCURRENCY slots for a backend call, shared by every worker on every machine."""

    slot: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    holder: str | None = Field(default=None, max_length=160)
    expires_at: datetime | None = None


class Event(SQLModel, table=True):
    """Something the UI or the API's WebSocket picks up, e.g. `job_complete` for a sentence image."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: str | None = Field(default=None, index=True, max_length=64)
    work_item_id: str | None = Field(default=None, index=True, max_length=64)
    type: str = Field(max_length=32)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class WorkerProcess(SQLModel, table=True):
    """A running job consumer (embedded or `python -m services worker`); its heartbeat says it is alive."""

    id: str = Field(primary_key=True, max_length=128)  # host:pid:token
    queue: str = Field(index=True, max_length=255)  # the queue URL without credentials
    host: str = Field(max_length=128)
    pid: int
    concurrency: int = 1
    embedded: bool = False
    started_at: datetime = Field(default_factory=utcnow)
    heartbeat_at: datetime = Field(default_factory=utcnow, index=True)
    stopped_at: datetime | None = None


# --- Who did what ---------------------------------------------------------------------------------


class ReviewDecision(SQLModel, table=True):
    """One review of an image version; the newest is the version's state (copied to `ImageVersion.review_state`)."""

    __tablename__ = "review_decision"
    __table_args__ = (Index("ix_review_decision_version", "version_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="imageversion.id")
    decision: str = Field(max_length=16)  # a ReviewState
    reviewer_email: str = Field(max_length=255)
    reviewer_name: str = Field(default="", max_length=255)
    note: str | None = None
    at: datetime = Field(default_factory=utcnow)


class Comment(SQLModel, table=True):
    """One message in an image version's thread, by the signed-in person; never edited."""

    __tablename__ = "comment"
    __table_args__ = (Index("ix_comment_version", "version_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="imageversion.id")
    author_email: str = Field(max_length=255)
    author_name: str = Field(default="", max_length=255)
    body: str
    at: datetime = Field(default_factory=utcnow)


class AuditEntry(SQLModel, table=True):
    """One change, append-only: who, when, what (action), on what (target and its work item / shot / size /
    sentence), and what changed (`before` → `after`). Written in the same transaction as the change."""

    __tablename__ = "audit"
    __table_args__ = (
        Index("ix_audit_at", "at", "id"),
        Index("ix_audit_actor", "actor_email", "at"),
        Index("ix_audit_action", "action", "at"),
        Index("ix_audit_work_item", "work_item_id", "shot_id", "at"),
        Index("ix_audit_sentence", "sentence_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor_email: str = Field(max_length=255)
    actor_name: str = Field(default="", max_length=255)
    action: str = Field(max_length=64)
    target_kind: str = Field(max_length=32)  # an AuditTargetKind
    target_id: str = Field(default="", max_length=255)
    work_item_id: str | None = Field(default=None, max_length=64)
    shot_id: str | None = Field(default=None, max_length=64)
    size_label: str | None = Field(default=None, max_length=32)
    sentence_id: str | None = Field(default=None, max_length=64)
    project_id: str | None = Field(default=None, max_length=64)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


# --- People and their API tokens (services/auth.py) -----------------------------------------------------


class User(SQLModel, table=True):
    """A person who signed in (or was added by an admin); `role` is what they may do."""

    __tablename__ = "users"

    email: str = Field(primary_key=True, max_length=255)  # lower case; a proxy's user name when it sends no email
    display_name: str = Field(default="", max_length=255)
    role: str = Field(default=Role.viewer, max_length=16)
    # Who set the role by hand (CLI or Settings); None: it follows the group mapping / default role at each sign-in.
    role_set_by: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime | None = None
    disabled: bool = False


class ApiToken(SQLModel, table=True):
    """A personal bearer token; only its keyed hash is stored, the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: str = Field(default_factory=lambda: new_id("tok"), primary_key=True, max_length=64)
    user_email: str = Field(foreign_key="users.email", index=True, max_length=255)
    name: str = Field(default="", max_length=128)
    token_hash: str = Field(unique=True, max_length=64)  # hex HMAC-SHA256 of the token
    prefix: str = Field(max_length=16)  # the token's first characters, to recognise it in a list
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str | None = Field(default=None, max_length=255)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class UserPreference(SQLModel, table=True):
    """One person's display choices (services/preferences.py), kept server-side so they follow the person to any
    browser; keyed by the actor's email (the local user's name with `RESHOOT_AUTH=none`, who has no `users` row)."""

    __tablename__ = "user_preference"

    user_email: str = Field(primary_key=True, max_length=255)
    grid_density: str = Field(default="comfortable", max_length=16)
    updated_at: datetime = Field(default_factory=utcnow)
