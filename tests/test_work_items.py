"""Work item list and detail: SQL filters, counts, pagination, and a query count that does not grow with shots."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlmodel import select

from services.db import get_engine, session_scope
from services.errors import ReshootError
from services.importer import import_data
from services.models import ExportPlanRow, GenerationClaim, ImageVersion, Job, JobClaim, Reference, Shot, utcnow
from services.read_models.heroes import WorkItemDetail, WorkItemPage
from services.work_items import get_work_item, list_statuses, list_work_items

SIZES = (("Desktop", 1920, 800), ("Tablet", 1536, 768), ("Mobile", 750, 1000))


def _item(item_id: str, title: str, status: str = "open", shots: int = 0, sku_prefix: str = "SKU") -> dict:
    item = {"id": item_id, "title": title, "status": status}
    if shots:
        item["lifestylePack"] = {
            "exportPlan": [
                {
                    "shot_id": f"S-{n}",
                    "sku": f"{sku_prefix}-{item_id}-{n}",
                    "size_label": label,
                    "width": w,
                    "height": h,
                    "filename": f"fcc/lifestyle/{item_id}/S-{n}/{label.lower()}.png",
                    "prompt": f"scene {n}",
                }
                for n in range(1, shots + 1)
                for label, w, h in SIZES
            ]
        }
    return item


def _add_version(
    row_id: int,
    version: int,
    state: str = "pending",
    *,
    current: bool = True,
    deleted: bool = False,
    reviewer: str | None = None,
) -> int:
    """An image version of an export row (as generation would record it); returns its id."""
    with session_scope() as s:
        image = ImageVersion(
            target_kind="hero",
            target_id=str(row_id),
            version=version,
            width=10,
            height=10,
            backend="local",
            storage_key=f"fcc/lifestyle/v/{row_id}-{version}.png",
            thumb_key=f"fcc/thumbs/{row_id}-{version}.webp",
            review_state=state,
            file_deleted=deleted,
            reviewer=reviewer,
            reviewed_at=datetime(2026, 12, 1, 14, 3, tzinfo=UTC) if reviewer else None,
        )
        s.add(image)
        s.flush()
        if current:
            s.get(ExportPlanRow, row_id).current_version_id = image.id
        return image.id


def _row_ids(work_item_id: str) -> list[int]:
    return [row.id for shot in get_work_item(work_item_id).shots for row in shot.rows]


def _add_references(work_item_id: str, shot_id: str, count: int) -> list[str]:
    start = utcnow()
    refs = [
        Reference(
            work_item_id=work_item_id,
            shot_id=shot_id,
            storage_key=f"fcc/lifestyle_refs/{work_item_id}/{shot_id}/r{n}.png",
            thumb_key=None,
            filename=f"r{n}.png",
            content_type="image/png",
            width=1,
            height=1,
            sha256=f"{n}",
            created_at=start + timedelta(seconds=n),
        )
        for n in range(count)
    ]
    with session_scope() as s:
        s.add_all(refs)
    return [r.id for r in refs]


@contextmanager
def count_queries():
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def catalogue(db):
    import_data(
        {
            "workItems": [
                _item("7", "Summer patio", "in_review", shots=4, sku_prefix="PAT"),
                _item("12", "Kitchen refresh", "open", shots=2, sku_prefix="KIT"),
                _item("15", "Autumn linen", "open"),
                _item("100", "100% wool throws", "done", shots=1, sku_prefix="WOOL"),
            ]
        }
    )


def _ids(page: WorkItemPage) -> list[str]:
    return [item.id for item in page.items]


def test_list_counts_and_order(catalogue):
    rows = _row_ids("7")
    _add_version(rows[0], 1, "approved")
    _add_version(rows[1], 1, "rejected", current=False)
    _add_version(rows[1], 2, "pending")
    _add_version(rows[2], 1, "pending")
    _add_version(rows[3], 1, "pending", current=False)  # not current: not counted
    _add_version(rows[4], 1, "rejected")
    page = list_work_items()
    assert _ids(page) == ["7", "12", "15", "100"]
    assert (page.total, page.page, page.page_size) == (4, 1, 25)
    seven = page.items[0]
    assert {
        k: seven.model_dump()[k]
        for k in (
            "title",
            "status",
            "shotCount",
            "imageCount",
            "pendingReviews",
            "approvedCount",
            "rejectedCount",
            "hasPack",
        )
    } == {
        "title": "Summer patio",
        "status": "in_review",
        "shotCount": 4,
        "imageCount": 4,
        "pendingReviews": 2,
        "approvedCount": 1,
        "rejectedCount": 1,
        "hasPack": True,
    }
    assert seven.updated_at
    no_pack = page.items[2]
    assert (no_pack.shot_count, no_pack.image_count, no_pack.has_pack) == (0, 0, False)


@pytest.mark.parametrize(
    "filters, expected",
    [
        ({"search": "kitchen"}, ["12"]),  # title, any case
        ({"search": "15"}, ["15"]),  # id
        ({"search": "pat-7-3"}, ["7"]),  # a shot's SKU
        ({"search": "100%"}, ["100"]),  # % is a literal, not a wildcard
        ({"search": "_"}, []),
        ({"status": "open"}, ["12", "15"]),
        ({"has_pack": True}, ["7", "12", "100"]),
        ({"has_pack": False}, ["15"]),
        ({"search": "e", "status": "open", "has_pack": True}, ["12"]),
    ],
)
def test_filters(catalogue, filters, expected):
    page = list_work_items(**filters)
    assert _ids(page) == expected and page.total == len(expected)


def test_pagination(catalogue):
    assert _ids(list_work_items(page=1, page_size=3)) == ["7", "12", "15"]
    last = list_work_items(page=2, page_size=3)
    assert _ids(last) == ["100"] and last.total == 4
    assert list_work_items(page=3, page_size=3).items == []
    for bad in ({"page": 0}, {"page_size": 0}, {"page_size": 5000}):
        with pytest.raises(ReshootError) as info:
            list_work_items(**bad)
        assert info.value.code == "INVALID_REQUEST"


def test_list_takes_one_query_whatever_the_page_size(catalogue):
    """The total rides on the page's rows (the search is evaluated once); only a page past the end counts apart."""
    with count_queries() as small:
        list_work_items(page_size=1)
    with count_queries() as large:
        found = list_work_items(page_size=100, search="e")
    assert len(small) == len(large) == 1
    with count_queries() as past_the_end:
        beyond = list_work_items(page=9, page_size=100, search="e")
    assert beyond.items == [] and beyond.total == found.total > 0 and len(past_the_end) == 2
    with count_queries() as nothing:
        none = list_work_items(search="no such work item")
    assert none.items == [] and none.total == 0 and len(nothing) == 1


def test_list_counts_take_the_same_one_query_however_many_items_and_heroes(catalogue):
    """The review counts come from one grouped subquery of the page query, never a query per row."""
    with count_queries() as few:
        small = list_work_items(page_size=100)
    import_data({"workItems": [_item(f"g{n}", f"Grown {n}", shots=3, sku_prefix="GRO") for n in range(40)]})
    for n in range(40):
        for row_id in _row_ids(f"g{n}")[:4]:
            _add_version(row_id, 1, ("pending", "approved", "rejected", "pending")[row_id % 4])
    with count_queries() as many:
        grown = list_work_items(page_size=100)
    assert len(small.items) == 4 and len(grown.items) == 44
    assert sum(i.pending_reviews + i.approved_count + i.rejected_count for i in grown.items) == 160
    assert len(few) == len(many) == 1


def _plan_of_page_query(**filters) -> list[str]:
    """SQLite's EXPLAIN QUERY PLAN of the statement that fetches the page's rows."""
    sent: list[tuple] = []
    engine = get_engine()
    record = lambda conn, cursor, statement, parameters, *args: sent.append((statement, parameters))  # noqa: E731
    event.listen(engine, "before_cursor_execute", record)
    try:
        list_work_items(**filters)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    statement, parameters = sent[-1]
    with engine.connect() as conn:
        steps = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    in_total: set[int] = set()  # the total's count, a scalar subquery of its own, is not the page's read
    for step_id, parent, _, detail in steps:
        if detail.startswith("SCALAR SUBQUERY") or parent in in_total:
            in_total.add(step_id)
    return [detail for step_id, _, _, detail in steps if step_id not in in_total]


@pytest.mark.parametrize(
    "filters, index",
    [
        ({}, "ix_workitem_order"),
        ({"has_pack": False}, "ix_workitem_order"),
        ({"search": "e", "status": "open"}, "ix_workitem_status"),
    ],
)
def test_page_query_reads_the_filtered_work_items_once(catalogue, filters, index):
    plan = _plan_of_page_query(**filters)
    reads = [
        step
        for step in plan
        if step.split(" USING ")[0] in ("SCAN workitem", "SEARCH workitem") and "(id=?)" not in step
    ]
    assert len(reads) == 1 and index in reads[0], plan  # the page's ids as a CTE, not inlined thrice
    assert "SEARCH workitem USING INDEX sqlite_autoindex_workitem_1 (id=?)" in plan  # then only the page's rows


def test_list_statuses(catalogue):
    assert list_statuses() == ["done", "in_review", "open"]


def test_get_work_item(catalogue):
    rows = _row_ids("7")
    first = _add_version(rows[0], 1, "rejected")
    _add_version(rows[0], 2, "pending", deleted=True, current=False)  # its file is gone: not a comparison candidate
    second = _add_version(rows[0], 3, "pending")
    refs = _add_references("7", "S-2", 5)
    item = get_work_item("7")
    assert (item.id, item.title, item.status, item.has_pack) == ("7", "Summer patio", "in_review", True)
    assert [s.shot_id for s in item.shots] == item.shot_ids == ["S-1", "S-2", "S-3", "S-4"]
    assert item.shot_count == 4
    shot = item.shots[0]
    assert (shot.sku, shot.prompt, shot.locked, shot.reference_count, shot.references) == (
        "PAT-7-1",
        "scene 1",
        False,
        0,
        [],
    )
    desktop, tablet = shot.rows[0], shot.rows[1]
    assert desktop.model_dump(mode="json") == {
        "id": rows[0],
        "shot_id": "S-1",
        "sku": "PAT-7-1",
        "size_label": "Desktop",
        "width": 1920,
        "height": 800,
        "filename": "fcc/lifestyle/7/S-1/desktop.png",
        "url": f"/assets/fcc/lifestyle/v/{rows[0]}-3.png",
        "thumbUrl": f"/assets/fcc/thumbs/{rows[0]}-3.webp",
        "versionId": second,
        "version": 3,
        "previousVersionId": first,
        "reviewState": "pending",
        "reviewer": None,
        "reviewedAt": None,
        "seed": None,
        "seedHonoured": True,
        "backend": "local",
    }
    assert (tablet.url, tablet.version_id, tablet.previous_version_id, tablet.review_state) == (
        None,
        None,
        None,
        None,
    )
    with_refs = item.shots[1]
    assert with_refs.reference_count == 5
    assert [r.id for r in with_refs.references] == refs[:3]
    assert with_refs.references[0].model_dump(mode="json") == {
        "id": refs[0],
        "url": "/assets/fcc/lifestyle_refs/7/S-2/r0.png",
        "thumbUrl": None,
        "filename": "r0.png",
    }


def test_get_work_item_pages_the_shots(catalogue):
    _add_references("7", "S-2", 4)
    _add_references("7", "S-4", 1)
    page = get_work_item("7", shot_offset=1, shot_limit=2)
    assert (page.shot_count, page.shot_ids) == (4, ["S-1", "S-2", "S-3", "S-4"])
    assert [s.shot_id for s in page.shots] == ["S-2", "S-3"]
    assert [len(s.rows) for s in page.shots] == [3, 3]
    assert [s.reference_count for s in page.shots] == [4, 0]
    assert page.shots == get_work_item("7").shots[1:3]
    past_the_end = get_work_item("7", shot_offset=4, shot_limit=12)
    assert past_the_end.shots == [] and past_the_end.shot_count == 4
    for bad in ({"shot_offset": -1}, {"shot_limit": -1}):
        with pytest.raises(ReshootError) as info:
            get_work_item("7", **bad)
        assert info.value.code == "INVALID_REQUEST"


def test_work_item_without_pack_and_unknown_id(catalogue):
    assert get_work_item("15").model_dump(mode="json") == {
        "id": "15",
        "title": "Autumn linen",
        "status": "open",
        "hasPack": False,
        "shotCount": 0,
        "shotIds": [],
        "shots": [],
    }
    with pytest.raises(ReshootError) as info:
        get_work_item("404")
    assert (info.value.code, info.value.status) == ("WORK_ITEM_NOT_FOUND", 404)


def _add_job(
    work_item_id: str, shot_ids: list[str] | None, status: str = "queued", kind: str = "lifestyle_heroes"
) -> str:
    """A job row and its shots' claims as generate_lifestyle_heroes records them (no worker runs them): a shot
    another active job claimed is joined, not claimed again; returns the job's id."""
    target = f"heroes:{work_item_id}:{','.join(shot_ids) if shot_ids else '*'}:{status}:{kind}"
    job = Job(kind=kind, target_key=target, work_item_id=work_item_id, params={"shotIds": shot_ids}, status=status)
    with session_scope() as s:
        s.add(job)
        s.flush()
        every_shot = s.exec(select(Shot.shot_id).where(Shot.work_item_id == work_item_id)).all()
        for shot_id in shot_ids or every_shot:
            key = f"hero:{work_item_id}:{shot_id}" if kind == "lifestyle_heroes" else f"{kind}:{work_item_id}:{shot_id}"
            claim = s.exec(
                select(GenerationClaim).where(
                    GenerationClaim.target_key == key, GenerationClaim.status.in_(("queued", "running"))
                )
            ).first()
            if claim is None:
                claim = GenerationClaim(
                    job_id=job.id, kind=kind, target_key=key, subject=shot_id, work_item_id=work_item_id, status=status
                )
                s.add(claim)
                s.flush()
            s.add(JobClaim(job_id=job.id, claim_id=claim.id, joined=claim.job_id != job.id))
    return job.id


def test_active_job_id_is_the_job_generating_the_shot_now(catalogue):
    assert [s.active_job_id for s in get_work_item("7").shots] == [None] * 4
    _add_job("7", ["S-2"], status="succeeded")
    _add_job("7", ["S-3"], status="failed")
    _add_job("7", ["S-4"], kind="sentence_image")
    twelve = _add_job("12", None)  # another work item's
    two_and_three = _add_job("7", ["S-2", "S-3"], status="running")
    assert [s.active_job_id for s in get_work_item("7").shots] == [None, two_and_three, two_and_three, None]
    every_shot = _add_job("7", None)
    assert [s.active_job_id for s in get_work_item("7").shots] == [
        every_shot,
        two_and_three,
        two_and_three,
        every_shot,
    ]
    assert [s.active_job_id for s in get_work_item("12").shots] == [twelve, twelve]


def _queries_for_work_item_with(shots: int, **paging) -> tuple[int, WorkItemDetail]:
    item_id = f"w{shots}"
    import_data({"workItems": [_item(item_id, f"{shots} shots", shots=shots)]})
    for n, row_id in enumerate(_row_ids(item_id)[::2]):
        _add_version(row_id, 1, "approved", reviewer="Ana")
        if n % 3 == 0:
            _add_version(row_id, 2)
    for n in range(1, shots + 1, 2):
        _add_references(item_id, f"S-{n}", 4)
    _add_job(item_id, [f"S-{n}" for n in range(1, shots + 1, 3)])
    with count_queries() as statements:
        item = get_work_item(item_id, **paging)
    return len(statements), item


def test_get_work_item_query_count_does_not_grow_with_shots(db):
    few, small = _queries_for_work_item_with(6)
    many, large = _queries_for_work_item_with(60)
    assert len(small.shots) == 6 and len(large.shots) == 60
    assert sum(len(s.rows) for s in large.shots) == 180
    assert sum(s.reference_count for s in large.shots) == 120
    assert sum(s.active_job_id is not None for s in large.shots) == 20
    decided = [(r.review_state, r.reviewer, r.reviewed_at) for s in large.shots for r in s.rows]
    assert decided.count(("approved", "Ana", "2026-12-01T14:03:00Z")) == 60  # what a card's badges show
    assert decided.count(("pending", None, None)) == 30
    assert few == many == 5


def test_a_page_of_12_shots_of_240_takes_the_same_queries(db):
    few, _ = _queries_for_work_item_with(6)
    paged, large = _queries_for_work_item_with(240, shot_offset=12, shot_limit=12)
    assert [s.shot_id for s in large.shots] == [f"S-{n}" for n in range(13, 25)]
    assert large.shot_count == len(large.shot_ids) == 240
    assert sum(len(s.rows) for s in large.shots) == 36
    assert [s.reference_count for s in large.shots] == [4 * (n % 2) for n in range(13, 25)]
    assert [s.active_job_id is not None for s in large.shots] == [n % 3 == 1 for n in range(13, 25)]
    assert few == paged == 5


def test_same_answers_on_postgresql(postgres_url, monkeypatch):
    from services.config import get_settings
    from services.db import migrate

    monkeypatch.setenv("RESHOOT_DATABASE_URL", postgres_url)
    get_settings.cache_clear()
    migrate()
    import_data({"workItems": [_item("7", "Summer patio", shots=2, sku_prefix="PAT"), _item("15", "100% linen")]})
    rows = _row_ids("7")
    first = _add_version(rows[0], 1, "approved")
    _add_version(rows[0], 2)
    _add_references("7", "S-1", 4)
    assert _ids(list_work_items(search="pat-7-2")) == ["7"]
    assert _ids(list_work_items(search="100%", has_pack=False)) == ["15"]
    seven = list_work_items().items[0]
    assert (seven.shot_count, seven.image_count, seven.pending_reviews, seven.approved_count) == (2, 1, 1, 0)
    shot = get_work_item("7").shots[0]
    assert shot.rows[0].previous_version_id == first and shot.reference_count == 4 and len(shot.references) == 3
