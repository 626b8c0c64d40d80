"""Read models of the heroes side: work items, their shots and hero targets (export plan rows with their current
image), references, image versions and review decisions.

Key spellings are the spec's: a hero target's `shot_id`/`size_label` are snake_case (as in Lifestyle Pack v2's
export plan) beside camelCase `thumbUrl`, `versionId`; each snake_case key is an explicit alias.
"""

from __future__ import annotations

from pydantic import Field

from services.enums import ReviewState
from services.read_models import ReadModel


class WorkItemSummary(ReadModel):
    """One row of the work item list, with its counts."""

    id: str
    title: str
    status: str
    shot_count: int
    image_count: int
    pending_reviews: int
    approved_count: int
    rejected_count: int
    has_pack: bool
    updated_at: str | None  # ISO 8601, as stored (naive UTC)


class WorkItemPage(ReadModel):
    """One page of the work item list; `total` counts every match, unless `total_capped`: then more than `total`
    match (a search asked for a count limit and counting stopped there)."""

    items: list[WorkItemSummary]
    total: int
    page: int
    page_size: int
    total_capped: bool = False


class ReferenceSummary(ReadModel):
    """One of a shot's first references, as a card shows it."""

    id: str
    url: str
    thumb_url: str | None
    filename: str


class HeroTarget(ReadModel):
    """An export plan row (one shot at one size) with its current image, if any (else the version's keys are None)."""

    id: int
    shot_id: str = Field(alias="shot_id")
    sku: str
    size_label: str = Field(alias="size_label")
    width: int
    height: int
    filename: str
    url: str | None = None
    thumb_url: str | None = None
    version_id: int | None = None
    version: int | None = None
    previous_version_id: int | None = None  # the newest older version whose file still exists: what Compare shows
    review_state: ReviewState | None = None
    reviewer: str | None = None  # who made the newest decision (its state is review_state)
    reviewed_at: str | None = None  # when, ISO 8601 UTC
    seed: int | None = None
    seed_honoured: bool | None = None
    backend: str | None = None


class ShotPublic(ReadModel):
    """A shot of the Lifestyle Pack with its hero targets, its first references and the job generating it now."""

    shot_id: str = Field(alias="shot_id")
    sku: str
    prompt: str | None
    locked: bool
    rows: list[HeroTarget]
    reference_count: int = 0
    references: list[ReferenceSummary] = Field(default_factory=list)
    active_job_id: str | None = None


class WorkItemDetail(ReadModel):
    """A work item with every shot's id and the asked-for page of its shots."""

    id: str
    title: str
    status: str
    has_pack: bool
    shot_count: int
    shot_ids: list[str]
    shots: list[ShotPublic]


class ReferencePublic(ReferenceSummary):
    """A reference image of a shot: `filename` is the stored name (spec 000's `ref_123.png`), `originalFilename`
    the uploaded one."""

    original_filename: str
    shot_id: str
    width: int
    height: int
    uploaded_by: str | None
    created_at: str | None


class ReferencesAdded(ReadModel):
    """Spec 000's answer to an upload: the shot's references that the upload's files are (new or already there)."""

    ok: bool = True
    shot_id: str
    references: list[ReferencePublic]


class ShotLocked(ReadModel):
    ok: bool = True
    shot_id: str
    locked: bool


class GeneratedTarget(ReadModel):
    """A hero target generated (or, in a dry run, to be generated): spec 001's `generated[]`."""

    shot_id: str = Field(alias="shot_id")
    filename: str
    width: int
    height: int


class SkippedTarget(ReadModel):
    """A target left alone: `EXISTS` (it has an image and overwrite is off) or `LOCKED` (its image or shot is)."""

    shot_id: str = Field(alias="shot_id")
    filename: str
    reason: str


class FailedShot(ReadModel):
    shot_id: str = Field(alias="shot_id")
    error: str
    message: str | None = None


class HeroesJobParams(ReadModel):
    """A generate-all job's request, as its row stores it: the shots asked for (None: every shot), overwriting?"""

    shot_ids: list[str] | None = None
    overwrite: bool = False


class HeroesOutcome(ReadModel):
    """A generate-all job's parts as stored: what its request left out (the job's plan), or what one shot made
    (a claim's outcome); `summarize` joins them into the result."""

    generated: list[GeneratedTarget] = Field(default_factory=list)
    skipped_existing: list[SkippedTarget] = Field(default_factory=list)
    missing_shots: list[str] = Field(default_factory=list)


class HeroesResult(ReadModel):
    """Spec 001's result JSON, as a dry run answers it."""

    ok: bool = True
    work_item_id: str
    dry_run: bool
    overwrite: bool
    generated: list[GeneratedTarget]
    skipped_existing: list[SkippedTarget]
    missing_shots: list[str]


class HeroesJobResult(HeroesResult):
    """A finished generation job's result: spec 001's JSON plus the shots that failed."""

    failed: list[FailedShot] = Field(default_factory=list)


class JoinedShot(ReadModel):
    """A shot another job was already generating: this request waits for that job's image."""

    shot_id: str = Field(alias="shot_id")
    job_id: str


class HeroesJobStarted(ReadModel):
    ok: bool = True
    job_id: str
    work_item_id: str
    message: str
    joined: list[JoinedShot]
