"""People and their API tokens as Settings, the CLI and the admin see them: never a token's secret or its hash."""

from __future__ import annotations

from services.enums import Role
from services.read_models import ReadModel, UtcDatetime


class UserPublic(ReadModel):
    email: str
    name: str
    role: Role
    role_set_by: str | None  # None: the role follows sign-in (groups or the default role)
    disabled: bool
    created_at: UtcDatetime | None
    last_seen_at: UtcDatetime | None


class TokenPublic(ReadModel):
    id: str
    user: str  # the owner's email
    name: str
    prefix: str  # the token's first characters, to recognise it
    created_at: UtcDatetime | None
    created_by: str | None
    last_used_at: UtcDatetime | None
    revoked_at: UtcDatetime | None


class NewToken(ReadModel):
    """A token just created: the only time its secret is known (only its keyed hash is stored)."""

    id: str
    token: str
    user_email: str
    name: str
