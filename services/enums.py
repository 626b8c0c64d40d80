"""The fixed sets of values Reshoot stores and sends: one `StrEnum` each, defined here and nowhere else.

They live in their own module, beside `services/models.py` rather than inside it, because the settings, the
identity module and the API schemas need them without importing the tables. Each member's value is the string the
database columns, the spec's JSON and the CLI already use, so a member compares equal to (and serialises as) that
string: the columns stay `str` and no migration is needed.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    """A Job's and a GenerationClaim's status."""

    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


ACTIVE_STATUSES = (JobStatus.queued, JobStatus.running)
FINISHED_STATUSES = (JobStatus.succeeded, JobStatus.failed)


class JobKind(StrEnum):
    """What a job generates; each kind's handlers are registered by its use-case module."""

    lifestyle_heroes = "lifestyle_heroes"
    sentence_image = "sentence_image"


class TargetKind(StrEnum):
    """What an image version belongs to (`ImageVersion.target_kind`): an export plan row or a sentence."""

    hero = "hero"
    sentence = "sentence"


class AuditTargetKind(StrEnum):
    """What an audit row is about (`AuditEntry.target_kind`)."""

    work_item = "work_item"
    shot = "shot"
    size = "size"
    sentence = "sentence"
    version = "version"
    reference = "reference"
    job = "job"
    data_import = "import"
    user = "user"
    token = "token"


class ReviewState(StrEnum):
    """An image version's review state (the newest review decision)."""

    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class SizeLabel(StrEnum):
    """The sizes a Lifestyle Pack names. An imported export plan may name others: `size_label` columns stay text."""

    desktop = "Desktop"
    tablet = "Tablet"
    mobile = "Mobile"


class Role(StrEnum):
    """What a signed-in person may do; each role allows what the ones before it allow."""

    viewer = "viewer"
    reviewer = "reviewer"
    admin = "admin"

    @property
    def rank(self) -> int:
        return _ROLE_RANKS[self]

    def allows(self, needed: Role) -> bool:
        return _ROLE_RANKS[self] >= _ROLE_RANKS[needed]


# A page run checks a role about a hundred times (every card's widgets): their order, listed once.
_ROLE_RANKS = {role: rank for rank, role in enumerate(Role)}
