"""ui.shared_models: equal read models are held once across sessions, a different one is its session's own, and
nothing is held after every session dropped it."""

from __future__ import annotations

import gc

from services.read_models.heroes import HeroTarget, ShotPublic
from ui.shared_models import shared, shared_count, shared_shot


def _shot(prompt: str = "A sofa") -> ShotPublic:
    row = HeroTarget(id=1, shot_id="S-1", sku="SKU-1", size_label="Desktop", width=1920, height=800, filename="d.png")
    return ShotPublic(shot_id="S-1", sku="SKU-1", prompt=prompt, locked=False, rows=[row])


def test_an_equal_model_is_the_one_already_held():
    first = shared_shot("w", _shot())
    assert shared_shot("w", _shot()) is first
    assert shared_shot("other", _shot()) is not first  # another key: its own


def test_a_changed_model_is_its_own_and_the_earlier_one_stays_as_it_was():
    first = shared_shot("w", _shot())
    changed = shared_shot("w", _shot("A teak sofa"))
    assert changed is not first and first.prompt == "A sofa"
    assert shared_shot("w", _shot("A teak sofa")) is changed


def test_nothing_is_held_once_no_one_holds_it():
    held = shared(("test", "gone"), _shot())
    before = shared_count()
    del held
    gc.collect()
    assert shared_count() == before - 1
