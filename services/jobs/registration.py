"""What a job kind plugs in: its handlers, registered by a decorator in its use-case module, and the types they get
and return (Unit, ClaimContext, ClaimOutcome, JobFailed).

A use-case module (services/lifestyle.py, services/storyboard.py) declares its kind once,
`HEROES_JOB = jobs.register(JobKind.lifestyle_heroes, event_job_type="lifestyle_heroes")`, and decorates its four
functions: `@HEROES_JOB.units_for`, `@HEROES_JOB.run_claim`, `@HEROES_JOB.summarize`, `@HEROES_JOB.retry`. Any
process that runs, reads or retries jobs must have imported those modules first: services/job_handlers.py imports
them all, and the entry points (the dashboard, the API, the CLI and its worker) import it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import update
from sqlmodel import Session, col, select

from services.db import session_scope
from services.enums import JobKind, JobStatus
from services.models import Job, JobClaim, utcnow
from services.read_models.jobs import JobPublic


class JobFailed(Exception):
    """Raised by a handler to fail its job (or claim) with a code and message while still recording a result."""

    def __init__(self, code: str, message: str, *, detail: Any = None, result: dict | None = None):
        super().__init__(message)
        self.code, self.message, self.detail, self.result = code, message, detail, result


@dataclass(frozen=True)
class Unit:
    """One thing a job generates: `target_key` is what only one worker may generate at a time."""

    target_key: str  # "hero:7:OL-1", "sentence:sent_001"
    subject: str  # the shot id or sentence id, as results name it
    weight: int = 1  # progress units (images)


@dataclass(frozen=True)
class ClaimOutcome:
    """A finished unit as a job's `summarize` sees it (its own or one it joined)."""

    subject: str
    status: str  # a JobStatus
    outcome: dict[str, Any] | None
    error_code: str | None
    message: str
    detail: str | None
    joined: bool
    job_id: str  # the job that generated it


@dataclass
class ClaimContext:
    """What a handler's `run_claim` gets: the unit, the parameters of the job that claimed it, reporting."""

    claim_id: int
    id: str  # the job that claimed the unit (new versions record it)
    kind: str
    subject: str
    params: dict[str, Any]
    worker_id: str | None
    work_item_id: str | None = None
    sentence_id: str | None = None
    project_id: str | None = None
    attempts: int = 1
    requested_by: str | None = None
    prepared: Any = None  # what the kind's `prepare` read in the claim's own transaction (None: nothing)
    prepare_error: Exception | None = None  # what `prepare` raised: the claim fails with it

    def report(self, message: str) -> None:
        """Show `message` on every running job waiting for this unit."""
        with session_scope() as session:
            job_ids = select(JobClaim.job_id).where(JobClaim.claim_id == self.claim_id)
            session.exec(
                update(Job)
                .where(col(Job.id).in_(job_ids), col(Job.status) == JobStatus.running)
                .values(message=message, heartbeat_at=utcnow())
            )


# --- Handlers --------------------------------------------------------------------------------------------------

UnitsFor = Callable[[JobPublic], tuple[list[Unit], dict[str, Any] | None]]
RunClaim = Callable[[ClaimContext], dict[str, Any]]
Prepare = Callable[[Session, ClaimContext], Any]
Summarize = Callable[[JobPublic, list[ClaimOutcome]], tuple[dict[str, Any], str]]


class JobStarted(Protocol):
    """What a use case answers when it starts a job (`HeroesJobStarted`, `ImageJobStarted`): the new job's id."""

    @property
    def job_id(self) -> str: ...


Retry = Callable[[JobPublic], JobStarted]  # the new job as its use case starts it
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class JobType:
    """One job kind's handlers, each set by decorating the use-case module's function with the method of its name:

    - `units_for(job) -> (units, plan)`: the units of a queued job recorded without claims;
    - `run_claim(ctx) -> outcome`: generate one unit (runs on a consumer thread, as the requester);
    - `summarize(job, claims) -> (result, message)`: the job's result JSON once its claims ended (or JobFailed);
    - `retry(job) -> job started`: a new job for what a finished one did not make;
    - optionally `prepare(session, ctx) -> anything`: reads for `run_claim` made in the claim's own transaction
      (one commit fewer a unit), passed as `ctx.prepared`.
    """

    kind: JobKind
    event_job_type: str  # `jobType` of its job_complete / job_failed events
    subject_key: str  # the key naming a unit in the job's `joined` list, e.g. "shot_id"
    _units_for: UnitsFor | None = None
    _run_claim: RunClaim | None = None
    _summarize: Summarize | None = None
    _retry: Retry | None = None
    _prepare: Prepare | None = None

    def prepare(self, function: F) -> F:
        self._prepare = function
        return function

    def units_for(self, function: F) -> F:
        self._units_for = function
        return function

    def run_claim(self, function: F) -> F:
        self._run_claim = function
        return function

    def summarize(self, function: F) -> F:
        self._summarize = function
        return function

    def retry(self, function: F) -> F:
        self._retry = function
        return function


@dataclass(frozen=True)
class Handlers:
    """A registered kind's four handlers, all present, and its optional `prepare`."""

    kind: JobKind
    event_job_type: str
    subject_key: str
    units_for: UnitsFor
    run_claim: RunClaim
    summarize: Summarize
    retry: Retry
    prepare: Prepare | None = None


_registry: dict[str, JobType] = {}


def register(kind: JobKind, *, event_job_type: str | None = None, subject_key: str = "subject") -> JobType:
    """Declare a job kind (once, in its use-case module); decorate its handlers with the returned JobType."""
    if kind in _registry:
        raise ValueError(f"Job kind {kind!r} is registered twice")
    _registry[kind] = job_type = JobType(kind, event_job_type or str(kind), subject_key)
    return job_type


def handlers(kind: str) -> Handlers:
    """The handlers of `kind`; a kind without them (unknown, or its module not imported) is a ValueError."""
    job_type = _registry.get(kind)
    if job_type is None:
        raise ValueError(
            f"Unknown job kind {kind!r}: no handlers registered (import services.job_handlers at the entry point)"
        )
    units_for, run_claim, summarize, retry = (
        job_type._units_for,
        job_type._run_claim,
        job_type._summarize,
        job_type._retry,
    )
    if units_for is None or run_claim is None or summarize is None or retry is None:
        raise ValueError(f"Job kind {kind!r} lacks a handler: decorate units_for, run_claim, summarize and retry")
    return Handlers(
        job_type.kind,
        job_type.event_job_type,
        job_type.subject_key,
        units_for,
        run_claim,
        summarize,
        retry,
        job_type._prepare,
    )


def event_job_type(kind: str) -> str:
    """`jobType` of a kind's events (spec 002 listens for "image"); the kind itself if it is not registered."""
    job_type = _registry.get(kind)
    return job_type.event_job_type if job_type else kind
