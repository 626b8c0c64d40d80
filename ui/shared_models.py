"""Read models that sessions share: the Work Item page keeps its grid page's shots and card notes in session state
(a card rerun reads them back), and Streamlit keeps a closed tab's session for server.disconnectedSessionTTL. Each
session holding its own copies of the same rows cost ~140 KB a session at 12 cards (docs/performance.md, "Memory").

`shared(key, model)` returns the model another session already holds under `key` when it is equal to `model`
(pydantic's field-by-field `==`), else keeps `model` as the one to share. A session still sees exactly what its own
read returned, whatever other sessions read later. The table holds its models weakly: a model lives as long as some
session (or run) holds it, so the table is bounded by what sessions keep anyway.

The UI never changes a read model in place: a change is a `model_copy(update=...)`, a new object that only its
session holds.
"""

from __future__ import annotations

import threading
import weakref
from typing import TypeVar

from pydantic import BaseModel

from services.read_models.hero_prompts import ShotCardSummary
from services.read_models.heroes import ShotPublic, WorkItemDetail

M = TypeVar("M", bound=BaseModel)

_LOCK = threading.Lock()
_SHARED: weakref.WeakValueDictionary[tuple[str, ...], BaseModel] = weakref.WeakValueDictionary()


def shared(key: tuple[str, ...], model: M) -> M:
    """`model`, or the equal model of the same type already shared under `key`."""
    with _LOCK:
        held = _SHARED.get(key)
        if held is model or (type(held) is type(model) and held == model):
            return held
        _SHARED[key] = model
        return model


def shared_shot(work_item_id: str, shot: ShotPublic) -> ShotPublic:
    return shared(("shot", work_item_id, shot.shot_id), shot)


def shared_card_notes(work_item_id: str, shot_id: str, notes: ShotCardSummary | None) -> ShotCardSummary | None:
    return None if notes is None else shared(("card_notes", work_item_id, shot_id), notes)


def shared_work_item(item: WorkItemDetail) -> WorkItemDetail:
    """The work item with its shots shared one by one (a change to one shot leaves the others shared), then itself
    shared per grid page."""
    shots = [shared_shot(item.id, shot) for shot in item.shots]
    if any(mine is not theirs for mine, theirs in zip(shots, item.shots, strict=True)):
        item = item.model_copy(update={"shots": shots})
    first = shots[0].shot_id if shots else ""
    return shared(("work_item", item.id, first), item)


def shared_count() -> int:
    """Models shared now (for tests)."""
    with _LOCK:
        return len(_SHARED)
