"""Each person's grid density is stored server-side, per person, and a change is audited as theirs."""

from __future__ import annotations

import pytest
from sqlmodel import select

from services.db import session_scope
from services.errors import ReshootError
from services.identity import Actor, Role, acting_as
from services.models import AuditEntry, UserPreference
from services.preferences import GridDensity, get_preferences, set_grid_density

ANA = Actor("ana@example.com", "Ana", Role.viewer)
BEN = Actor("ben@example.com", "Ben", Role.reviewer)


def test_the_default_is_comfortable_and_a_choice_is_kept_per_person(db):
    with acting_as(ANA):
        assert get_preferences().grid_density is GridDensity.comfortable
        assert set_grid_density(density="compact").grid_density is GridDensity.compact
    with acting_as(BEN):
        assert get_preferences().grid_density is GridDensity.comfortable  # Ana's choice is hers
    with acting_as(ANA):
        assert get_preferences().grid_density is GridDensity.compact
        assert get_preferences().model_dump(mode="json") == {"gridDensity": "compact"}
    with session_scope() as session:
        entries = session.exec(select(AuditEntry).where(AuditEntry.action == "user.preference")).all()
        assert [(e.actor_email, e.before, e.after) for e in entries] == [
            ("ana@example.com", {"gridDensity": "comfortable"}, {"gridDensity": "compact"})
        ]


def test_choosing_the_stored_density_again_writes_nothing(db):
    with acting_as(BEN):
        set_grid_density(density=GridDensity.comfortable)  # the default: no row, no audit entry
        set_grid_density(density=GridDensity.compact)
        set_grid_density(density=GridDensity.compact)
    with session_scope() as session:
        assert len(session.exec(select(AuditEntry).where(AuditEntry.action == "user.preference")).all()) == 1
        assert [p.grid_density for p in session.exec(select(UserPreference)).all()] == ["compact"]


def test_the_local_user_has_preferences_without_a_users_row(db, monkeypatch):
    monkeypatch.setenv("RESHOOT_USER", "kim")
    set_grid_density(density="compact")
    assert get_preferences().grid_density is GridDensity.compact
    with session_scope() as session:
        assert session.get(UserPreference, "kim") is not None


def test_an_unknown_density_is_refused_with_the_accepted_values(db):
    with pytest.raises(ReshootError) as refused:
        set_grid_density(density="tiny")
    assert refused.value.code == "INVALID_REQUEST"
    assert refused.value.details == [{"field": "gridDensity", "message": "must be one of comfortable, compact"}]
