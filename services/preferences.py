"""Each person's display choices, kept server-side so they follow the person to any browser or session.

With `RESHOOT_AUTH=none` the person is the local user. Reading needs no role (a viewer has a grid too); a change is
recorded in the audit trail like any other, as the person who made it.
"""

from __future__ import annotations

from enum import StrEnum

from services.audit import AuditAction, Target, record
from services.db import session_scope
from services.enums import AuditTargetKind
from services.errors import invalid_request
from services.identity import current_actor
from services.models import UserPreference, utcnow
from services.read_models import ReadModel


class GridDensity(StrEnum):
    """The work item page's hero grid: `comfortable` cards carry their actions; `compact` ones fit 5–6 a row."""

    comfortable = "comfortable"
    compact = "compact"


class Preferences(ReadModel):
    grid_density: GridDensity = GridDensity.comfortable


def get_preferences() -> Preferences:
    """The signed-in person's choices (the defaults until they change one)."""
    with session_scope() as session:
        row = session.get(UserPreference, current_actor().email)
        return Preferences(grid_density=GridDensity(row.grid_density)) if row else Preferences()


def set_grid_density(*, density: GridDensity | str) -> Preferences:
    """Store the signed-in person's grid density; an unknown value is refused with the accepted ones."""
    try:
        picked = GridDensity(density)
    except ValueError:
        accepted = ", ".join(GridDensity)
        raise invalid_request([{"field": "gridDensity", "message": f"must be one of {accepted}"}]) from None
    email = current_actor().email
    with session_scope() as session:
        row = session.get(UserPreference, email)
        before = row.grid_density if row else GridDensity.comfortable.value
        if before != picked.value:  # choosing what is already stored writes nothing
            row = row or UserPreference(user_email=email)
            row.grid_density, row.updated_at = picked.value, utcnow()
            session.add(row)
            record(
                session,
                action=AuditAction.set_preference,
                target=Target(AuditTargetKind.user, email),
                before={"gridDensity": before},
                after={"gridDensity": picked.value},
            )
    return Preferences(grid_density=picked)
