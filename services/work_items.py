"""Work item list and detail, in SQL: counts in grouped subqueries, LIMIT/OFFSET pages, constant query counts."""

from __future__ import annotations

from functools import cache, reduce
from operator import add
from typing import Any

from sqlalchemy import (
    ARRAY,
    Integer,
    LargeBinary,
    Select,
    String,
    any_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    table,
    text,
    union,
    union_all,
)
from sqlalchemy import select as sa_select  # sqlmodel's select() is typed for at most 4 columns
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from services.db import get_engine, session_scope
from services.enums import ACTIVE_STATUSES, JobKind, ReviewState, TargetKind
from services.errors import ReshootError, invalid_request
from services.models import ExportPlanRow, GenerationClaim, ImageVersion, LifestylePack, Reference, Shot, WorkItem, iso
from services.read_models.heroes import (
    HeroTarget,
    ReferenceSummary,
    ShotPublic,
    WorkItemDetail,
    WorkItemPage,
    WorkItemSummary,
)
from services.search_index import MIN_INDEXED_TERM, PG_WORK_ITEM_TEXT, SHOT_FTS, WORK_ITEM_FTS
from services.storable_text import require_storable
from services.storage import Storage, get_storage

MAX_PAGE_SIZE = 1000
# The Work Items page counts a search's matches up to this many past the page it shows ("1,000+ work items").
LIST_COUNT_LIMIT = 1000
REFERENCES_SHOWN = 3
PG_SEARCH_SETTINGS = "SET LOCAL enable_seqscan = off; SET LOCAL plan_cache_mode = force_custom_plan"


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(column: Any, pattern: str, dialect: str) -> Any:
    """Case-insensitive substring match; SQLite's LIKE already ignores ASCII case (as its lower() does)."""
    if dialect == "postgresql":
        return column.ilike(pattern, escape="\\")
    return column.like(pattern, escape="\\")


def _search_condition(term: str, dialect: str) -> Any:
    """Work items whose id, title or a shot's SKU contains `term` (any case).

    Terms of 3 or more characters go through the trigram indexes (services.search_index): FTS5 on SQLite,
    pg_trgm on PostgreSQL (ILIKE uses it), so a search reads only the matches. Shorter terms cannot use a trigram:
    they are checked row by row (SKUs through the narrow sku index, then only the matching shots' rows)."""
    if len(term) < MIN_INDEXED_TERM:
        pattern = _like(term)
        sku_match = select(Shot.work_item_id).where(
            col(Shot.id).in_(select(Shot.id).where(_contains(Shot.sku, pattern, dialect)))
        )
        return (
            _contains(WorkItem.id, pattern, dialect)
            | _contains(WorkItem.title, pattern, dialect)
            | col(WorkItem.id).in_(sku_match)
        )
    if dialect == "sqlite":  # an OR of two index lookups (SQLite's multi-index OR), no union to build
        phrase = literal(_phrase(term))
        shots = select(Shot.work_item_id).where(col(Shot.id).in_(_fts(phrase, SHOT_FTS)))
        return literal_column("workitem.rowid").in_(_fts(phrase)) | col(WorkItem.id).in_(shots)
    return col(WorkItem.id).in_(_pg_search_ids(literal(_like(term))))  # PostgreSQL: the union feeds one semi-join


def _phrase(term: str) -> str:
    """FTS5: one quoted phrase, the term's characters literally."""
    return '"' + term.replace('"', '""') + '"'


def _fts(phrase: Any, fts_table: str = WORK_ITEM_FTS) -> Select[Any]:
    """SQLite: the rowids an FTS5 trigram table matches for `phrase` (work items' or shots')."""
    return (
        sa_select(literal_column("rowid"))
        .select_from(table(fts_table))
        .where(literal_column(fts_table).op("MATCH")(phrase))
    )


def _pg_search_ids(pattern: Any) -> Any:
    """PostgreSQL: the ids of the work items whose id, title or a shot's SKU is ILIKE `pattern` (a term of 3+
    characters), as a union of two pg_trgm index scans."""
    items = select(WorkItem.id).where(_item_contains("postgresql", pattern, None))
    shots = select(Shot.work_item_id).where(_shot_contains("postgresql", pattern, None))
    return union(items, shots)


def _item_contains(dialect: str, pattern: Any, phrase: Any) -> Any:
    """Per work item row (correlated with `workitem`): does its id or title contain the term (`pattern` for LIKE,
    `phrase` for FTS5)? The same answer as the index's. PostgreSQL: the indexed text's ILIKE. SQLite: LIKE folds
    ASCII case only, where FTS5's trigrams fold Unicode case, so a row with other characters also asks the index
    (one list for the whole statement)."""
    if dialect == "postgresql":
        return _contains(literal_column(PG_WORK_ITEM_TEXT), pattern, dialect)
    return (
        _contains(WorkItem.id, pattern, dialect)
        | _contains(WorkItem.title, pattern, dialect)
        | (_not_ascii(WorkItem.id, WorkItem.title) & literal_column("workitem.rowid").in_(_fts(phrase)))
    )


def _not_ascii(*columns: Any) -> Any:
    """SQLite: the texts have a character outside ASCII (more UTF-8 bytes than characters); 0.6 µs a row, where a
    GLOB for one took 2.3 µs."""
    return reduce(add, (func.length(cast(c, LargeBinary)) for c in columns)) > reduce(add, map(func.length, columns))


def _shot_contains(dialect: str, pattern: Any, phrase: Any) -> Any:
    """Per shot row, as `_item_contains`: does its SKU contain the term?"""
    if dialect == "postgresql":
        return _contains(Shot.sku, pattern, dialect)
    return _contains(Shot.sku, pattern, dialect) | (_not_ascii(Shot.sku) & col(Shot.id).in_(_fts(phrase, SHOT_FTS)))


@cache
def _capped_search(dialect: str) -> tuple[Any, Any, Any]:
    """A search alone with a count limit, as three statements built once per dialect with named parameters
    (pattern, phrase, stop, ids, limit, offset, total): its first matches, the page of a few of them, the page
    walked. Built afresh, a statement cost ~7 ms of Python to build and key for the compiled cache (at 100 work
    items, twice the database's time); built once, the two a search sends take ~0.8 ms together."""
    pattern, phrase = bindparam("pattern", type_=String), bindparam("phrase", type_=String)
    stop, limit, offset = (bindparam(name, type_=Integer) for name in ("stop", "limit", "offset"))
    total = bindparam("total", type_=Integer)
    walked = select(WorkItem.id).where(
        _item_contains(dialect, pattern, phrase)
        | sa_select(Shot.id)  # type: ignore[call-overload]
        .where(Shot.work_item_id == WorkItem.id, _shot_contains(dialect, pattern, phrase))
        .exists()
    )
    if dialect == "sqlite":
        values = func.json_each(bindparam("ids", type_=String)).table_valued("value")
        few = select(WorkItem.id).where(literal_column("workitem.rowid").in_(sa_select(values.c.value)))
    else:
        few = select(WorkItem.id).where(col(WorkItem.id) == any_(bindparam("ids", type_=ARRAY(String))))
    pages = (
        _page_query(ids.order_by(func.length(WorkItem.id), WorkItem.id).limit(limit).offset(offset).cte("page"), total)
        for ids in (few, walked)
    )
    return _first_matches(dialect, pattern, phrase, stop), *pages


def _first_matches(dialect: str, pattern: Any, phrase: Any, stop: Any) -> Any:
    """The keys of a search alone's first `stop` matches (all of them when fewer; SQLite: work items' rowids, which
    FTS5 answers without a row lookup, PostgreSQL: ids): the index's work items, then those whose shots alone match,
    each read lazily up to the limit (a term in 10,000 titles reads ~`stop`)."""
    if dialect == "sqlite":  # FTS5 yields its matches one by one: a LIMIT stops the lookup
        key: Any = literal_column("workitem.rowid")
        items = _fts(phrase)
        shots = _from_fts(phrase, SHOT_FTS, Shot.work_item_id, col(Shot.id))
    else:  # GIN answers with a bitmap of every match, then the heap is read up to the limit; GiST yields them lazily
        key = col(WorkItem.id)
        items = sa_select(key).where(_item_contains(dialect, pattern, phrase))
        shots = sa_select(col(Shot.work_item_id)).where(_shot_contains(dialect, pattern, phrase))
    only_shots = (
        shots.join(WorkItem, col(WorkItem.id) == Shot.work_item_id)
        .where(~_item_contains(dialect, pattern, phrase))  # found with the items already
        .with_only_columns(key.label("key"))
        .distinct()
        .limit(stop)
    )
    first = union_all(sa_select(items.limit(stop).subquery().c[0]), sa_select(only_shots.subquery().c[0]))
    found = first.limit(stop).subquery().c[0]
    # One row: the count, and the keys as one value unless counting stopped (then the page needs none of them; 1,001
    # rows, or 1,001 strings in Python, cost more than the search). The keys go back to the page as one parameter.
    keys = func.json_group_array(found) if dialect == "sqlite" else func.array_agg(found)
    return sa_select(func.count(found), case((func.count(found) < stop, keys)))


def _from_fts(phrase: Any, fts_table: str, column: Any, rowid: Any) -> Select[Any]:
    """SQLite: `column` of the rows an FTS5 table matches, read from the index (one row lookup per match)."""
    matched = _fts(phrase, fts_table).subquery()
    return sa_select(col(column)).select_from(matched).join(column.table, rowid == matched.c.rowid)


def _filters(search: str | None, status: str | None, has_pack: bool | None, dialect: str) -> list[Any]:
    conditions: list[Any] = []
    if search and search.strip():
        conditions.append(_search_condition(search.strip(), dialect))
    if status:
        conditions.append(WorkItem.status == status)
    if has_pack is not None:
        pack = select(LifestylePack.id).where(LifestylePack.work_item_id == WorkItem.id).exists()
        conditions.append(pack if has_pack else ~pack)
    return conditions


def list_work_items(
    *,
    search: str | None = None,
    status: str | None = None,
    has_pack: bool | None = None,
    page: int = 1,
    page_size: int = 25,
    count_limit: int | None = None,
) -> WorkItemPage:
    """One page of work items with their counts (shots, current hero images and how many of those are pending,
    approved, rejected); one query whatever the page size or table size (two for a page past the end).

    With `count_limit`, a search alone counts at most that many matches past the page's start (`total_capped` says
    when it stopped; two queries, the count then the page), so a term found in a tenth of 100,000 work items does
    not read all 10,000 of them."""
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE or (count_limit is not None and count_limit < 1):
        raise invalid_request(
            {"page": page, "pageSize": page_size, "maxPageSize": MAX_PAGE_SIZE}
            | ({"countLimit": count_limit} if count_limit is not None else {})
        )
    require_storable({"search": search, "status": status})
    dialect = get_engine().dialect.name
    term = search.strip() if search else ""
    search_alone = len(term) >= MIN_INDEXED_TERM and status is None and has_pack is None
    with session_scope() as session:
        if dialect == "postgresql" and len(term) >= MIN_INDEXED_TERM:
            # The planner prices ILIKE like a cheap comparison and scans up to ~50,000 rows rather than use pg_trgm,
            # at microseconds a row; for this transaction only, the trigram indexes are taken (3-5x faster at 10,000).
            # And each search is planned for its own term and limits: psycopg prepares a statement run 5 times, and
            # PostgreSQL's generic plan for it (the term unknown) took 0.4 s instead of 20 ms at 100,000 work items.
            session.execute(text(PG_SEARCH_SETTINGS))
        if search_alone and count_limit is not None:
            # Fewer matches than the limit: their ids are the page's candidates, sorted (no second search). More:
            # the page walks the list order's index `(length(id), id)` and checks each work item until it is full
            # (a term in a tenth of the rows is found every ~10 rows; one just past a limit of 1,000 at 100,000
            # rows, every ~100).
            first, few, walked = _capped_search(dialect)
            stop = (page - 1) * page_size + count_limit + 1
            term_params = {"pattern": _like(term), "phrase": _phrase(term)}
            counted, found = session.execute(first, {**term_params, "stop": stop}).one()
            capped = counted == stop  # counting stopped: more than stop - 1 match
            total = counted - capped
            at = {"limit": page_size, "offset": (page - 1) * page_size, "total": total}
            if capped:
                rows = session.execute(walked, {**term_params, **at}).all()
            else:
                rows = session.execute(few, {"ids": found or ("[]" if dialect == "sqlite" else []), **at}).all()
        else:
            page_ids, total_query = _page_and_total(term, status, has_pack, dialect, page, page_size)
            rows = session.execute(_page_query(page_ids, total_query.scalar_subquery())).all()
            # The total rides on the page's rows; a page past the end has none, and only then is it counted apart.
            total = rows[0][-1] if rows else (0 if page == 1 else session.execute(total_query).scalar_one())
            capped = False
    items = [
        WorkItemSummary(
            id=wid,
            title=title,
            status=wstatus,
            shot_count=int(shot_count),
            image_count=int(image_count),
            pending_reviews=int(pending),
            approved_count=int(approved),
            rejected_count=int(rejected),
            has_pack=bool(has),
            updated_at=updated.isoformat() if updated else None,
        )
        for wid, title, wstatus, updated, has, shot_count, image_count, pending, approved, rejected, _ in rows
    ]
    return WorkItemPage(items=items, total=int(total), page=page, page_size=page_size, total_capped=capped)


def _page_and_total(
    term: str, status: str | None, has_pack: bool | None, dialect: str, page: int, page_size: int
) -> tuple[Any, Any]:
    """The page's ids (a CTE) and the query counting every match."""
    conditions = _filters(term, status, has_pack, dialect)
    # The matches are a CTE read twice (the total, the page), so both databases evaluate the search once.
    matches = select(WorkItem.id).where(*conditions).cte("matches") if conditions else None
    if dialect == "postgresql" and len(term) >= MIN_INDEXED_TERM and status is None and has_pack is None:
        # The union's ids are work items' already (shots reference them): checked against the table, the matches
        # were a hash join over all 100,000 rows (the planner may not scan, see enable_seqscan above).
        matches = _pg_search_ids(literal(_like(term))).cte("matches")
    if matches is None:
        page_ids = (
            select(WorkItem.id)
            .order_by(func.length(WorkItem.id), WorkItem.id)  # numeric ids ("7" before "12") in natural order
            .limit(page_size)
            .offset((page - 1) * page_size)
        ).cte("page")  # a CTE, so the page's ids are read once (a subquery is inlined three times)
        return page_ids, select(func.count()).select_from(WorkItem)
    page_ids = (
        sa_select(matches.c.id)
        .order_by(func.length(matches.c.id), matches.c.id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).cte("page")
    return page_ids, select(func.count()).select_from(matches)


def _page_query(page_ids: Any, total: Any) -> Any:
    """The page's work items with their counts, in list order; every row also carries `total`."""
    in_page = select(page_ids.c.id)
    shots = (
        select(Shot.work_item_id, func.count().label("n"))
        .where(col(Shot.work_item_id).in_(in_page))
        .group_by(Shot.work_item_id)
        .subquery("shots")
    )
    state = col(ImageVersion.review_state)
    images = (
        sa_select(
            col(ExportPlanRow.work_item_id),
            func.count(col(ExportPlanRow.current_version_id)).label("images"),
            func.sum(case((state == ReviewState.pending, 1), else_=0)).label("pending"),
            func.sum(case((state == ReviewState.approved, 1), else_=0)).label("approved"),
            func.sum(case((state == ReviewState.rejected, 1), else_=0)).label("rejected"),
        )
        .outerjoin(ImageVersion, col(ImageVersion.id) == ExportPlanRow.current_version_id)
        .where(col(ExportPlanRow.work_item_id).in_(in_page))
        .group_by(ExportPlanRow.work_item_id)
        .subquery("images")
    )
    return (
        sa_select(
            col(WorkItem.id),
            col(WorkItem.title),
            col(WorkItem.status),
            col(WorkItem.updated_at),
            col(LifestylePack.id).is_not(None),
            func.coalesce(shots.c.n, 0),
            func.coalesce(images.c.images, 0),
            func.coalesce(images.c.pending, 0),
            func.coalesce(images.c.approved, 0),
            func.coalesce(images.c.rejected, 0),
            total,
        )
        .select_from(page_ids)
        .join(WorkItem, col(WorkItem.id) == page_ids.c.id)
        .outerjoin(LifestylePack, col(LifestylePack.work_item_id) == WorkItem.id)
        .outerjoin(shots, shots.c.work_item_id == WorkItem.id)
        .outerjoin(images, images.c.work_item_id == WorkItem.id)
        .order_by(func.length(page_ids.c.id), page_ids.c.id)  # the page's 25 rows, not the whole table, are sorted
    )


def list_statuses() -> list[str]:
    """Every status some work item has, sorted."""
    with session_scope() as session:
        return list(session.exec(select(WorkItem.status).distinct().order_by(col(WorkItem.status))).all())


def _url(storage: Storage, key: str | None) -> str | None:
    return storage.url(key) if key else None


def _page_of_shots(limited: bool) -> Any:
    """The work item's shots from `:shot_offset` (at most `:shot_limit` of them if `limited`), as a subquery."""
    columns = (Shot.id, Shot.shot_id, Shot.sku, Shot.prompt, Shot.locked, Shot.position)
    page = (
        sa_select(*(col(c) for c in columns))
        .where(col(Shot.work_item_id) == bindparam("work_item_id"))
        .order_by(col(Shot.position), col(Shot.id))
        .offset(bindparam("shot_offset", type_=Integer))
    )
    return (page.limit(bindparam("shot_limit", type_=Integer)) if limited else page).subquery("page")


def _shots_with_rows_query(page: Any) -> Any:
    """The page's shots, their export rows and current versions (with the previous version's id), as plain
    columns in one query."""
    previous = aliased(ImageVersion)
    previous_id = (
        select(previous.id)
        .where(
            col(previous.target_kind) == TargetKind.hero,
            col(previous.target_id) == cast(ExportPlanRow.id, String),
            col(previous.version) < ImageVersion.version,
            col(previous.file_deleted).is_(False),
        )
        .order_by(col(previous.version).desc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        sa_select(
            page.c.id,
            page.c.shot_id,
            page.c.sku,
            page.c.prompt,
            page.c.locked,
            col(ExportPlanRow.id),
            col(ExportPlanRow.size_label),
            col(ExportPlanRow.width),
            col(ExportPlanRow.height),
            col(ExportPlanRow.filename),
            col(ImageVersion.id),
            col(ImageVersion.version),
            col(ImageVersion.storage_key),
            col(ImageVersion.thumb_key),
            col(ImageVersion.review_state),
            col(ImageVersion.reviewer),
            col(ImageVersion.reviewed_at),
            previous_id,
            col(ImageVersion.seed),
            col(ImageVersion.seed_honoured),
            col(ImageVersion.backend),
        )
        .select_from(page)
        .outerjoin(ExportPlanRow, col(ExportPlanRow.shot_pk) == page.c.id)
        .outerjoin(ImageVersion, col(ImageVersion.id) == ExportPlanRow.current_version_id)
        .order_by(page.c.position, page.c.id, col(ExportPlanRow.position), col(ExportPlanRow.id))
    )


def _first_references_query(page: Any) -> Any:
    """Per shot of the page: how many references it has (`total`) and its first three, in one query."""
    ranked = (
        sa_select(
            col(Reference.id),
            col(Reference.shot_id),
            col(Reference.storage_key),
            col(Reference.thumb_key),
            col(Reference.filename),
            func.row_number()
            .over(partition_by=col(Reference.shot_id), order_by=(col(Reference.created_at), col(Reference.id)))
            .label("rn"),
            func.count().over(partition_by=col(Reference.shot_id)).label("total"),
        )
        .where(
            col(Reference.work_item_id) == bindparam("work_item_id"),
            col(Reference.shot_id).in_(sa_select(page.c.shot_id)),
        )
        .subquery()
    )
    return sa_select(*ranked.c).where(ranked.c.rn <= REFERENCES_SHOWN).order_by(ranked.c.shot_id, ranked.c.rn)


@cache
def _detail_queries(limited: bool) -> tuple[Any, Any, Any, Any, Any]:
    """`get_work_item`'s five statements, built once (with bound parameters `work_item_id`, `shot_offset` and
    `shot_limit`): building them and their cache keys cost more than SQLAlchemy's compiled-statement cache saves."""
    work_item_id = bindparam("work_item_id", type_=String)
    item = (
        sa_select(col(WorkItem.id), col(WorkItem.title), col(WorkItem.status), col(LifestylePack.id))
        .outerjoin(LifestylePack, col(LifestylePack.work_item_id) == WorkItem.id)
        .where(col(WorkItem.id) == work_item_id)
    )
    shot_ids = (
        sa_select(col(Shot.shot_id))
        .where(col(Shot.work_item_id) == work_item_id)
        .order_by(col(Shot.position), col(Shot.id))
    )
    page = _page_of_shots(limited)
    active_jobs = sa_select(col(GenerationClaim.subject), col(GenerationClaim.job_id)).where(
        col(GenerationClaim.work_item_id) == work_item_id,
        col(GenerationClaim.kind) == JobKind.lifestyle_heroes,
        col(GenerationClaim.status).in_(ACTIVE_STATUSES),
    )
    return item, shot_ids, _shots_with_rows_query(page), _first_references_query(page), active_jobs


def _shots_with_rows(rows: Any, storage: Storage) -> list[ShotPublic]:
    """ShotPublic models from `_shots_with_rows_query`'s rows (a shot's rows are adjacent)."""
    shots: dict[int, ShotPublic] = {}
    for (
        pk,
        shot_id,
        sku,
        prompt,
        locked,
        row_id,
        size_label,
        width,
        height,
        filename,
        version_id,
        version,
        key,
        thumb,
        review,
        reviewer,
        reviewed_at,
        prev_id,
        seed,
        seed_honoured,
        backend,
    ) in rows:
        entry = shots.get(pk)
        if entry is None:
            entry = shots[pk] = ShotPublic(shot_id=shot_id, sku=sku, prompt=prompt, locked=locked, rows=[])
        if row_id is None:
            continue
        entry.rows.append(
            HeroTarget(
                id=row_id,
                shot_id=shot_id,
                sku=sku,
                size_label=size_label,
                width=width,
                height=height,
                filename=filename,
                url=_url(storage, key),
                thumb_url=_url(storage, thumb),
                version_id=version_id,
                version=version,
                previous_version_id=prev_id,
                review_state=review,
                reviewer=reviewer,
                reviewed_at=iso(reviewed_at),
                seed=seed,
                seed_honoured=seed_honoured,
                backend=backend,
            )
        )
    return list(shots.values())


def _first_references(rows: Any, storage: Storage) -> dict[str, tuple[int, list[ReferenceSummary]]]:
    """Per shot id: how many references it has and its first three, from `_first_references_query`'s rows."""
    found: dict[str, tuple[int, list[ReferenceSummary]]] = {}
    for ref_id, shot_id, key, thumb, filename, _rn, total in rows:
        refs = found.setdefault(shot_id, (int(total), []))[1]
        refs.append(
            ReferenceSummary(id=ref_id, url=storage.url(key), thumb_url=_url(storage, thumb), filename=filename)
        )
    return found


def get_work_item(work_item_id: str, *, shot_offset: int = 0, shot_limit: int | None = None) -> WorkItemDetail:
    """A work item with every shot's id (`shotIds`, `shotCount`) and, for the shots from `shot_offset` (at most
    `shot_limit` of them; all by default), their hero targets, current images, first references and the
    queued/running hero job covering each (`activeJobId`); at most five queries whatever the number of shots."""
    if shot_offset < 0 or (shot_limit is not None and shot_limit < 0):
        raise invalid_request({"shotOffset": shot_offset, "shotLimit": shot_limit})
    storage = get_storage()
    item, shot_ids_query, shots_query, references_query, active_jobs_query = _detail_queries(shot_limit is not None)
    params = {"work_item_id": work_item_id, "shot_offset": shot_offset, "shot_limit": shot_limit}
    with get_engine().connect() as db:  # plain columns: no ORM session to build and commit
        found = db.execute(item, params).first()
        if found is None:
            raise ReshootError("WORK_ITEM_NOT_FOUND", 404, {"workItemId": work_item_id}, f"No work item {work_item_id}")
        item_id, title, status, pack_id = found
        shot_ids: list[str] = []
        shots: list[ShotPublic] = []
        references: dict[str, tuple[int, list[ReferenceSummary]]] = {}
        active_jobs: dict[str, str] = {}
        if pack_id:
            shot_ids = list(db.execute(shot_ids_query, params).scalars())
            shots = _shots_with_rows(db.execute(shots_query, params).all(), storage)
            references = _first_references(db.execute(references_query, params).all(), storage)
            active_jobs = {subject: job_id for subject, job_id in db.execute(active_jobs_query, params).all()}
    for shot in shots:
        shot.reference_count, shot.references = references.get(shot.shot_id, (0, []))
        shot.active_job_id = active_jobs.get(shot.shot_id)
    return WorkItemDetail(
        id=item_id,
        title=title,
        status=status,
        has_pack=pack_id is not None,
        shot_count=len(shot_ids),
        shot_ids=shot_ids,
        shots=shots,
    )


def shots_by_sku(work_item_id: str) -> dict[str, list[str]]:
    """Each SKU of the work item's shots and its shot ids (in shot order), SKUs sorted; one query."""
    query = (
        select(Shot.sku, Shot.shot_id)
        .where(Shot.work_item_id == work_item_id)
        .order_by(col(Shot.sku), col(Shot.position), col(Shot.id))
    )
    found: dict[str, list[str]] = {}
    with session_scope() as session:
        for sku, shot_id in session.exec(query).all():
            found.setdefault(sku, []).append(shot_id)
    return found
