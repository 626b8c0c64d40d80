"""Hero prompts: each shot's scene prompt is edited like a sentence's image prompt (saved as typed, marking the
shot's heroes dirty until they are made again from it), and an earlier version's seed and prompt can be recalled
for the shot's next generation (`Shot.seed`, used by `services.lifestyle` until it is cleared).

Also what a hero card shows beyond `get_work_item()` (the shot's prompt state, each size's latest decision and
comment count) and the rejected heroes' notes where a regeneration is started, each in one query."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import field_validator
from sqlalchemy import Integer, String, bindparam, func
from sqlalchemy import select as sql_select  # more columns than sqlmodel's typed select() takes
from sqlmodel import Session, col, select

from services.audit import AuditAction, Target, record
from services.auth import require
from services.db import get_engine, session_scope
from services.enums import AuditTargetKind, ReviewState, TargetKind
from services.errors import ReshootError, invalid_request
from services.identity import Role
from services.models import Comment, ExportPlanRow, ImageVersion, Shot
from services.options import Options
from services.read_models.comments import ThreadSummary
from services.read_models.hero_prompts import RejectedHero, ShotCardSummary, ShotPrompt
from services.storable_text import checked_text

MAX_PROMPT_LENGTH = 4000  # characters; image backends take far less, this only bounds what is stored
MAX_SEED = 2**63 - 1  # what the BigInteger column holds


def _shot(session: Session, work_item_id: str, shot_id: str) -> Shot:
    shot = session.exec(select(Shot).where(Shot.work_item_id == work_item_id, Shot.shot_id == shot_id)).first()
    if shot is None:
        raise ReshootError(
            "SHOT_NOT_FOUND",
            404,
            {"workItemId": work_item_id, "shotId": shot_id},
            f"No shot {shot_id} in {work_item_id}",
        )
    return shot


def _public(shot: Shot) -> ShotPrompt:
    return ShotPrompt(
        work_item_id=shot.work_item_id,
        shot_id=shot.shot_id,
        prompt=shot.prompt,
        heroes_dirty=shot.heroes_dirty,
        seed=shot.seed,
    )


def _target(shot: Shot) -> Target:
    return Target(AuditTargetKind.shot, shot.shot_id, shot.work_item_id, shot.shot_id)


class UpdateShotPromptOptions(Options):
    """A shot's scene prompt, saved as typed (not stripped, may be empty); at most
    MAX_PROMPT_LENGTH characters and storable everywhere, each refusal a 400 INVALID_REQUEST on `prompt`."""

    prompt: str

    @field_validator("prompt", mode="before")
    @classmethod
    def _checked(cls, prompt: object) -> str:
        return checked_text(prompt, field="prompt", max_length=MAX_PROMPT_LENGTH, what="A prompt")


def _set_prompt(session: Session, shot: Shot, prompt: str) -> None:
    if prompt != shot.prompt:
        record(
            session,
            action=AuditAction.edit_shot_prompt,
            target=_target(shot),
            before={"prompt": shot.prompt},
            after={"prompt": prompt},
        )
        shot.prompt = prompt
        shot.heroes_dirty = True
        session.add(shot)


def update_shot_prompt(*, work_item_id: str, shot_id: str, options: UpdateShotPromptOptions) -> ShotPrompt:
    """Save a shot's edited scene prompt (as typed); a change marks its heroes dirty until they are regenerated."""
    require(Role.reviewer)
    with session_scope() as session:
        shot = _shot(session, work_item_id, shot_id)
        _set_prompt(session, shot, options.prompt)
        return _public(shot)


def set_shot_seed(*, work_item_id: str, shot_id: str, seed: int | None) -> ShotPrompt:
    """The seed the shot's next generations use; None: a new random one each time."""
    require(Role.reviewer)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED):
        raise invalid_request([{"field": "seed", "message": f"must be a whole number from 0 to {MAX_SEED}, or none"}])
    with session_scope() as session:
        shot = _shot(session, work_item_id, shot_id)
        _set_seed(session, shot, seed)
        return _public(shot)


def _set_seed(session: Session, shot: Shot, seed: int | None) -> None:
    if seed != shot.seed:
        record(
            session,
            action=AuditAction.set_shot_seed,
            target=_target(shot),
            before={"seed": shot.seed},
            after={"seed": seed},
        )
        shot.seed = seed
        session.add(shot)


def use_version_for_shot(*, version_id: int) -> ShotPrompt:
    """`Use this seed / prompt`: the shot of a hero version takes that version's prompt and, when its backend
    used it, its seed, so the shot's next `Regenerate shot` makes the same picture again (or a variation, once
    the prompt is edited). A version whose backend ignores seeds recalls its prompt and leaves the seed random."""
    require(Role.reviewer)
    with session_scope() as session:
        version = session.get(ImageVersion, version_id) if isinstance(version_id, int) else None
        if version is None or version.target_kind != TargetKind.hero:
            raise ReshootError("VERSION_NOT_FOUND", 404, {"versionId": version_id}, "Hero image version not found")
        row = session.get(ExportPlanRow, int(version.target_id))
        shot = session.get(Shot, row.shot_pk) if row else None
        if shot is None:
            raise ReshootError("SHOT_NOT_FOUND", 404, {"versionId": version_id}, "The version's shot no longer exists")
        _set_prompt(session, shot, version.prompt)
        _set_seed(session, shot, version.seed if version.seed_honoured else None)
        return _public(shot)


def shot_prompt(*, work_item_id: str, shot_id: str) -> ShotPrompt:
    with session_scope() as session:
        return _public(_shot(session, work_item_id, shot_id))


@cache
def _card_summaries_query() -> Any:
    """`card_summaries`' statement, built once (bound: `work_item_id`, the expanding `shot_ids`)."""
    comments = (
        select(func.count())
        .where(Comment.version_id == ImageVersion.id)
        .correlate(ImageVersion)
        .scalar_subquery()
        .label("comment_count")
    )
    return (
        sql_select(
            col(Shot.shot_id),
            col(Shot.prompt),
            col(Shot.heroes_dirty),
            col(Shot.seed),
            col(ExportPlanRow.size_label),
            col(ImageVersion.id),
            col(ImageVersion.review_state),
            col(ImageVersion.reviewer),
            col(ImageVersion.reviewed_at),
            col(ImageVersion.review_note),
            comments,
        )
        .select_from(Shot)
        .outerjoin(ExportPlanRow, col(ExportPlanRow.shot_pk) == Shot.id)
        .outerjoin(ImageVersion, col(ImageVersion.id) == ExportPlanRow.current_version_id)
        .where(
            col(Shot.work_item_id) == bindparam("work_item_id", type_=String),
            col(Shot.shot_id).in_(bindparam("shot_ids", expanding=True)),
        )
    )


def card_summaries(*, work_item_id: str, shot_ids: list[str]) -> dict[str, ShotCardSummary]:
    """Per shot id: its prompt state and, per size with an image, the latest decision and comment count; one
    query whatever the number of shots."""
    if not shot_ids:
        return {}
    found: dict[str, ShotCardSummary] = {}
    with get_engine().connect() as db:  # plain columns: no ORM session needed
        rows = db.execute(_card_summaries_query(), {"work_item_id": work_item_id, "shot_ids": shot_ids}).all()
    for shot_id, prompt, dirty, seed, size, version_id, state, reviewer, at, note, count in rows:
        summary = found.setdefault(
            shot_id,
            ShotCardSummary(
                shot=ShotPrompt(
                    work_item_id=work_item_id, shot_id=shot_id, prompt=prompt, heroes_dirty=dirty, seed=seed
                ),
                sizes={},
            ),
        )
        if version_id is not None:
            summary.sizes[size] = ThreadSummary(
                version_id=version_id,
                review_state=state,
                reviewer=reviewer,
                reviewed_at=at,
                review_note=note,
                comment_count=int(count or 0),
            )
    return found


@cache
def _rejected_heroes_query(of_shots: bool) -> Any:
    """`rejected_heroes`' statement, built once (bound: `work_item_id`, `limit` and, `of_shots`, `shot_ids`)."""
    query = (
        sql_select(
            col(ImageVersion.id),
            col(ImageVersion.version),
            col(Shot.shot_id),
            col(ExportPlanRow.size_label),
            col(ImageVersion.reviewer),
            col(ImageVersion.review_note),
            col(ImageVersion.reviewed_at),
        )
        .select_from(ExportPlanRow)
        .join(Shot, col(Shot.id) == ExportPlanRow.shot_pk)
        .join(ImageVersion, col(ImageVersion.id) == ExportPlanRow.current_version_id)
        .where(
            col(ExportPlanRow.work_item_id) == bindparam("work_item_id", type_=String),
            col(ImageVersion.review_state) == ReviewState.rejected,
        )
        .order_by(col(Shot.position), col(Shot.id), col(ExportPlanRow.position), col(ExportPlanRow.id))
        .limit(bindparam("limit", type_=Integer))
    )
    return query.where(col(Shot.shot_id).in_(bindparam("shot_ids", expanding=True))) if of_shots else query


def rejected_heroes(*, work_item_id: str, shot_ids: list[str] | None = None, limit: int = 50) -> list[RejectedHero]:
    """Current heroes of these shots (all shots: None) whose latest decision is `rejected`, in plan order, with
    the reviewer's note; at most `limit`, one query."""
    params = {"work_item_id": work_item_id, "shot_ids": shot_ids, "limit": max(1, limit)}
    with get_engine().connect() as db:  # plain columns: no ORM session needed
        rows = db.execute(_rejected_heroes_query(shot_ids is not None), params).all()
    return [
        RejectedHero(
            version_id=vid, version=number, shot_id=sid, size_label=size, reviewer=who, note=note, reviewed_at=at
        )
        for vid, number, sid, size, who, note, at in rows
    ]
