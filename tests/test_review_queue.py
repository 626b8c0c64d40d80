"""The review queue (filters, oldest first, keyset pages, counts, the index it reads) and bulk decisions
(one transaction, one audit row and one history row per decision, reviewers only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlmodel import col, select

from services.db import get_engine, session_scope
from services.enums import ReviewState
from services.errors import ReshootError
from services.identity import Actor, Role, acting_as
from services.importer import import_data
from services.models import AuditEntry, ExportPlanRow, ImageVersion, ReviewDecision, Shot, WorkItem
from services.read_models.review_queue import QueueCursor, ReviewQueueFilter
from services.versions import decide_many, hero_size_labels, review_queue, review_queue_count
from tests.test_work_items import _item, count_queries

ANA = Actor("ana@example.com", "Ana", Role.reviewer)
VIOLA = Actor("viola@example.com", "Viola", Role.viewer)
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def add_image(
    work_item_id: str, shot_id: str, size: str, *, minute: int, backend: str = "local", current: bool = True
) -> int:
    """A version of that hero made `minute` minutes after T0 (pending); the row's current one unless told."""
    with session_scope() as s:
        row = s.exec(
            select(ExportPlanRow)
            .join(Shot, col(Shot.id) == ExportPlanRow.shot_pk)
            .where(Shot.work_item_id == work_item_id, Shot.shot_id == shot_id, ExportPlanRow.size_label == size)
        ).one()
        number = len(s.exec(select(ImageVersion.id).where(ImageVersion.target_id == str(row.id))).all()) + 1
        image = ImageVersion(
            target_kind="hero",
            target_id=str(row.id),
            version=number,
            storage_key=f"k/{row.id}-{number}.png",
            width=row.width,
            height=row.height,
            prompt=f"{shot_id} scene",
            seed=minute,
            backend=backend,
            created_at=T0 + timedelta(minutes=minute),
        )
        s.add(image)
        s.flush()
        if current:
            row.current_version_id = row.published_version_id = image.id  # no file to publish: none needed
            s.add(row)
        return image.id


@pytest.fixture
def queue(db) -> dict[str, int]:
    """Two work items; six current pending heroes (oldest first: a..f) and one superseded version."""
    import_data(
        {
            "workItems": [
                _item("7", "Summer patio", shots=2, sku_prefix="PAT"),
                _item("12", "Kitchen refresh", shots=1, sku_prefix="KIT"),
            ]
        }
    )
    return {
        "old": add_image("7", "S-1", "Desktop", minute=0),  # superseded by "b": not in the queue
        "d": add_image("7", "S-2", "Mobile", minute=30, backend="openai"),
        "a": add_image("12", "S-1", "Desktop", minute=5),
        "b": add_image("7", "S-1", "Desktop", minute=10),
        "f": add_image("12", "S-1", "Tablet", minute=50, backend="comfyui"),
        "c": add_image("7", "S-1", "Mobile", minute=20, backend="openai"),
        "e": add_image("7", "S-2", "Desktop", minute=40),
    }


def ids(found, names: dict[str, int]) -> list[str]:
    by_id = {v: k for k, v in names.items()}
    return [by_id[hero.version_id] for hero in found]


def test_the_queue_is_every_current_pending_hero_oldest_first(queue):
    found = review_queue()
    assert ids(found, queue) == ["a", "b", "c", "d", "e", "f"]
    first = found[0]
    assert (first.work_item_id, first.work_item_title, first.shot_id, first.sku, first.size_label) == (
        "12",
        "Kitchen refresh",
        "S-1",
        "KIT-12-1",
        "Desktop",
    )
    assert (first.version, first.seed, first.backend, first.prompt, first.review_state) == (
        1,
        5,
        "local",
        "S-1 scene",
        ReviewState.pending,
    )
    assert (first.width, first.height, first.filename) == (1920, 800, "fcc/lifestyle/12/S-1/desktop.png")
    assert first.model_dump(mode="json")["workItemId"] == "12"  # camelCase JSON
    assert first.previous_version_id is None and found[1].previous_version_id == queue["old"]  # what V compares
    assert review_queue_count() == 6


@pytest.mark.parametrize(
    "only, expected",
    [
        (ReviewQueueFilter(work_item_id="7"), ["b", "c", "d", "e"]),
        (ReviewQueueFilter(sku="PAT-7-2"), ["d", "e"]),
        (ReviewQueueFilter(size_label="Desktop"), ["a", "b", "e"]),
        (ReviewQueueFilter(backend="openai"), ["c", "d"]),
        (ReviewQueueFilter(work_item_id="7", size_label="Mobile", backend="openai"), ["c", "d"]),
        (ReviewQueueFilter(work_item_id=" 12 ", sku="", size_label=None), ["a", "f"]),  # blank means any
        (ReviewQueueFilter(sku="NOPE"), []),
        (ReviewQueueFilter(state="approved"), []),
    ],
)
def test_filters_and_their_counts(queue, only, expected):
    assert ids(review_queue(only=only), queue) == expected
    assert review_queue_count(only=only) == len(expected)


def test_keyset_pages_from_a_place_and_before_it(queue):
    everything = review_queue()
    at_c = everything[2].cursor
    assert ids(review_queue(start=at_c, limit=2), queue) == ["c", "d"]  # the place itself, then the next
    assert ids(review_queue(before=at_c, limit=1), queue) == ["b"]
    assert ids(review_queue(before=at_c, limit=5), queue) == ["a", "b"]  # oldest first, also backwards
    assert review_queue(before=everything[0].cursor) == []
    assert review_queue(start=QueueCursor(created_at=T0 + timedelta(days=1), version_id=0)) == []
    same_minute = add_image("12", "S-1", "Mobile", minute=20)  # ties on time are ordered by version id
    assert ids(review_queue(start=at_c, limit=2), {**queue, "c2": same_minute}) == ["c", "c2"]
    with pytest.raises(ReshootError) as refused:
        review_queue(start=at_c, before=at_c)
    assert refused.value.code == "INVALID_REQUEST"


def test_count_stops_at_a_cap_and_bad_text_is_a_400(queue):
    assert review_queue_count(cap=4) == 4 and review_queue_count(cap=100) == 6
    with pytest.raises(ReshootError) as refused:
        review_queue(only=ReviewQueueFilter(sku="KIT\x00"))
    assert refused.value.code == "INVALID_REQUEST" and "sku" in str(refused.value.details)
    assert hero_size_labels() == ["Desktop", "Mobile", "Tablet"]


def _last_statement(call) -> tuple[str, object]:
    """The last SQL statement `call` sent, with its parameters."""
    sent: list[tuple[str, object]] = []
    engine = get_engine()
    record = lambda conn, cursor, statement, parameters, *args: sent.append((statement, parameters))  # noqa: E731
    event.listen(engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return sent[-1]


def _plan(call) -> list[str]:
    statement, parameters = _last_statement(call)
    with get_engine().connect() as conn:
        return [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()]


def test_a_page_walks_the_queue_index_in_order_without_sorting(queue):
    """SQLite: the page reads pending images in the index's order and stops after `limit` (no sort of all)."""
    for call in (
        lambda: review_queue(limit=2),
        lambda: review_queue(start=review_queue()[3].cursor, limit=2),
        lambda: review_queue(before=review_queue()[3].cursor, limit=1),
    ):
        plan = _plan(call)
        assert any("ix_imageversion_review_queue" in step for step in plan), plan
        assert not any("TEMP B-TREE" in step for step in plan), plan
    sku_plan = _plan(lambda: review_queue(only=ReviewQueueFilter(sku="PAT-7-2")))
    assert any("ix_shot_sku" in step for step in sku_plan), sku_plan  # a SKU starts from its own few shots


def test_the_queue_takes_one_query_whatever_its_length(queue):
    with count_queries() as short:
        review_queue(limit=1)
    for minute in range(60, 70):
        add_image("7", "S-2", "Tablet", minute=minute)
    with count_queries() as long:
        review_queue(limit=500)
    assert len(short) == len(long) == 1


# --- Bulk decisions ------------------------------------------------------------------------------------------


def _decisions() -> list[tuple[int, str, str, str | None]]:
    with session_scope() as s:
        rows = s.exec(select(ReviewDecision).order_by(col(ReviewDecision.id))).all()
        return [(d.version_id, d.decision, d.reviewer_email, d.note) for d in rows]


def _audit(action: str = "version.review") -> list[tuple[str, str, str | None, str | None]]:
    with session_scope() as s:
        rows = s.exec(select(AuditEntry).where(AuditEntry.action == action).order_by(col(AuditEntry.id))).all()
        return [(r.actor_email, r.target_id, r.shot_id, r.size_label) for r in rows]


def test_decide_many_selected_versions_in_one_transaction(queue):
    statements: list[str] = []
    engine = get_engine()
    commits: list[int] = []
    hooks = (
        ("before_cursor_execute", lambda conn, cursor, statement, *a: statements.append(statement)),
        ("commit", lambda conn: commits.append(1)),
    )
    for name, hook in hooks:
        event.listen(engine, name, hook)
    try:
        with acting_as(ANA):
            result = decide_many(state="rejected", note="  Logo cut off ", version_ids=[queue["c"], queue["a"]])
    finally:
        for name, hook in hooks:
            event.remove(engine, name, hook)
    assert len(commits) == 1, "one transaction for every decision"
    assert result.version_ids == [queue["a"], queue["c"]] and result.count == 2  # the queue's order
    assert (result.state, result.note, result.work_item_ids) == (ReviewState.rejected, "Logo cut off", ["12", "7"])
    assert _decisions() == [
        (queue["a"], "rejected", ANA.email, "Logo cut off"),
        (queue["c"], "rejected", ANA.email, "Logo cut off"),
    ]
    assert _audit() == [
        (ANA.email, str(queue["a"]), "S-1", "Desktop"),
        (ANA.email, str(queue["c"]), "S-1", "Mobile"),
    ]
    assert ids(review_queue(), queue) == ["b", "d", "e", "f"]
    with session_scope() as s:
        assert s.get(ImageVersion, queue["a"]).reviewer == "Ana"
        assert s.get(WorkItem, "7").updated_at > s.get(WorkItem, "7").created_at


def test_decide_many_all_pending_of_a_work_item_or_a_sku(queue):
    with acting_as(ANA):
        decide_many(state="approved", version_ids=[queue["b"]])
        by_sku = decide_many(state="rejected", sku="PAT-7-2")
        assert ids(by_sku.version_ids and review_queue(only=ReviewQueueFilter(state="rejected")), queue) == ["d", "e"]
        by_item = decide_many(state="approved", work_item_id="7", note="ok")  # only what is still pending: c
    assert by_item.version_ids == [queue["c"]]
    assert ids(review_queue(), queue) == ["a", "f"]  # work item 12 untouched
    with session_scope() as s:
        assert s.get(ImageVersion, queue["old"]).review_state == "pending"  # not current: never decided in bulk
    with acting_as(ANA):
        assert decide_many(state="approved", work_item_id="7").version_ids == []  # nothing pending left


def test_decide_many_changes_nothing_when_a_version_is_unknown(queue):
    with acting_as(ANA), pytest.raises(ReshootError) as missing:
        decide_many(state="approved", version_ids=[queue["a"], 999999])
    assert (missing.value.code, missing.value.status, missing.value.details) == (
        "VERSION_NOT_FOUND",
        404,
        {"versionIds": [999999]},
    )
    assert _decisions() == [] and _audit() == [] and review_queue_count() == 6


@pytest.mark.parametrize(
    "arguments, field",
    [
        ({"state": "maybe", "version_ids": [1]}, "state"),
        ({"state": "approved"}, "versionIds"),  # neither ids nor a filter
        ({"state": "approved", "version_ids": [1], "work_item_id": "7"}, "versionIds"),  # both
        ({"state": "approved", "version_ids": []}, "versionIds"),
        ({"state": "approved", "version_ids": ["1"]}, "versionIds"),
        ({"state": "approved", "version_ids": [1], "note": 5}, "note"),
        ({"state": "approved", "version_ids": [1], "note": "a\x00b"}, "note"),
    ],
)
def test_decide_many_refuses_bad_input_with_the_field(queue, arguments, field):
    with acting_as(ANA), pytest.raises(ReshootError) as refused:
        decide_many(**arguments)
    assert refused.value.code == "INVALID_REQUEST" and field in str(refused.value.details)
    assert _decisions() == []


def test_decide_many_needs_a_reviewer(queue):
    with acting_as(VIOLA), pytest.raises(ReshootError) as refused:
        decide_many(state="approved", work_item_id="7")
    assert (refused.value.code, refused.value.status) == ("FORBIDDEN", 403)
    assert _decisions() == [] and review_queue_count() == 6


def test_same_answers_on_postgresql(postgres_url, monkeypatch):
    from services.config import get_settings
    from services.db import migrate

    monkeypatch.setenv("RESHOOT_DATABASE_URL", postgres_url)
    get_settings.cache_clear()
    migrate()
    import_data({"workItems": [_item("7", "Summer patio", shots=2, sku_prefix="PAT")]})
    made = {
        "b": add_image("7", "S-1", "Desktop", minute=10),
        "a": add_image("7", "S-2", "Desktop", minute=5, backend="openai"),
        "c": add_image("7", "S-2", "Mobile", minute=10),
    }
    everything = review_queue()
    assert ids(everything, made) == ["a", "b", "c"]
    assert ids(review_queue(start=everything[1].cursor), made) == ["b", "c"]
    assert ids(review_queue(before=everything[2].cursor, limit=1), made) == ["b"]
    assert ids(review_queue(only=ReviewQueueFilter(sku="PAT-7-2", backend="openai")), made) == ["a"]
    assert review_queue_count(only=ReviewQueueFilter(sku="PAT-7-2")) == 2 and review_queue_count(cap=1) == 1
    with acting_as(ANA):
        assert decide_many(state="approved", sku="PAT-7-2").version_ids == [made["a"], made["c"]]
    assert ids(review_queue(), made) == ["b"]


def test_postgresql_can_walk_the_queue_index_without_sorting(postgres_url, monkeypatch):
    """PostgreSQL picks plans by table statistics (a seq scan and a sort win on a tiny table), so sorting and seq
    scans are priced out here: what is checked is that the index serves the queue's order for a page and a keyset
    step, which fails if the index or the ORDER BY change shape."""
    from services.config import get_settings
    from services.db import migrate

    monkeypatch.setenv("RESHOOT_DATABASE_URL", postgres_url)
    get_settings.cache_clear()
    migrate()
    import_data({"workItems": [_item("7", "Summer patio", shots=2, sku_prefix="PAT")]})
    add_image("7", "S-1", "Desktop", minute=1)
    cursor = review_queue()[0].cursor
    engine = get_engine()
    for call in (lambda: review_queue(limit=2), lambda: review_queue(start=cursor, limit=2)):
        statement, parameters = _last_statement(call)
        with engine.connect() as conn:
            conn.exec_driver_sql("SET enable_seqscan = off")
            conn.exec_driver_sql("SET enable_sort = off")
            plan = "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).all())
        assert "ix_imageversion_review_queue" in plan and "Sort" not in plan, plan
