"""What Settings shows about the parts Reshoot runs on."""

from __future__ import annotations

from services.read_models import ReadModel


class ComponentStatus(ReadModel):
    """One part (database, storage, queue, image backend): what is in use, whether it answers, in plain words."""

    component: str
    in_use: str  # its URL without a password, or the backend and model
    ok: bool
    message: str
