"""What a hero card reads beyond `get_work_item()`: a shot's prompt state and, per size, its review summary."""

from __future__ import annotations

from datetime import datetime

from services.read_models import ReadModel
from services.read_models.comments import ThreadSummary


class ShotPrompt(ReadModel):
    """A shot's scene prompt, whether its current heroes were made from an older one, and the seed its next
    generations use (None: a new random seed each time)."""

    work_item_id: str
    shot_id: str
    prompt: str
    heroes_dirty: bool
    seed: int | None


class ShotCardSummary(ReadModel):
    """A card's extras: its shot's prompt state and each size's latest decision and comment count."""

    shot: ShotPrompt
    sizes: dict[str, ThreadSummary]  # by size label; sizes without an image are absent


class RejectedHero(ReadModel):
    """A current hero whose latest decision is `rejected`: the note the next regeneration should answer."""

    version_id: int
    version: int
    shot_id: str
    size_label: str
    reviewer: str | None
    note: str | None
    reviewed_at: datetime | None
