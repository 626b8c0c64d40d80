"""The audit trail as the Activity page, the histories beside a hero or a sentence, and the CSV export read it."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from services.read_models import ReadModel, UtcDatetime


class ActivityEntry(ReadModel):
    """One change: who, when, what (`action`, e.g. `version.review`), about what and where, before → after."""

    id: int
    at: UtcDatetime
    actor_email: str
    actor_name: str
    action: str
    target_kind: str
    target_id: str
    work_item_id: str | None
    shot_id: str | None
    size_label: str | None
    sentence_id: str | None
    project_id: str | None
    before: dict[str, Any] | None  # free-form: the changed fields as the change recorded them
    after: dict[str, Any] | None

    @property
    def actor(self) -> str:
        return self.actor_name or self.actor_email

    @property
    def action_label(self) -> str:
        from services.audit import ACTION_LABELS, AuditAction

        try:
            return ACTION_LABELS[AuditAction(self.action)]
        except ValueError:  # an action a newer version recorded
            return self.action

    @property
    def where(self) -> str:
        """`7 · OL-1 · Desktop`, `sentence sent_001`, `job job_…`."""
        if self.sentence_id:
            return f"sentence {self.sentence_id}"
        parts = [p for p in (self.work_item_id, self.shot_id, self.size_label) if p]
        return " · ".join(parts) or f"{self.target_kind} {self.target_id}".strip()

    @property
    def change(self) -> str:
        """`approved → rejected`, `'a farm' → 'a farm at dusk'`, or the `after` values, in one line."""
        before, after = self.before or {}, self.after or {}
        changed = [f"{k}: {_short(before[k])} → {_short(after.get(k))}" for k in before if k in after]
        rest = [f"{k}: {_short(v)}" for k, v in after.items() if k not in before]
        gone = [f"{k}: {_short(v)}" for k, v in before.items() if k not in after]
        return "; ".join(changed + rest + gone)


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ActivityPage(ReadModel):
    entries: list[ActivityEntry] = Field(default_factory=list)
    page: int = 1
    page_size: int = 50
    has_more: bool = False
