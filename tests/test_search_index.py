"""Work item search through the trigram indexes (SQLite FTS5, PostgreSQL pg_trgm): the same answers as a plain
substring scan, kept in step with inserts, updates and deletes by the database, and actually used by the queries."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text

from services.config import get_settings
from services.db import get_engine, migrate, session_scope
from services.errors import ReshootError
from services.importer import import_data
from services.models import Shot, WorkItem
from services.work_items import PG_SEARCH_SETTINGS, list_work_items

ITEMS = [
    {"id": "7", "title": "Summer patio", "status": "open", "sku": "PAT-7-1"},
    {"id": "12", "title": "Kitchen refresh", "status": "open", "sku": "KIT-12-1"},
    {"id": "15", "title": "Autumn linen", "status": "done", "sku": None},
    {"id": "100", "title": '100% wool "throws"', "status": "done", "sku": "WOOL_100"},
    {"id": "ab-301", "title": "Crème brûlée Set", "status": "open", "sku": "DES-ÉCLAIR"},
]
CASES = [
    ("kitchen", ["12"]),
    ("KITCHEN", ["12"]),
    ("itche", ["12"]),  # title, any case, inside a word
    ("pat-7", ["7"]),
    ("it-12-1", ["12"]),  # a shot's SKU
    ("100%", ["100"]),
    ('"throws"', ["100"]),
    ("l_1", ["100"]),  # % _ and " are characters, not syntax
    ("ab-3", ["ab-301"]),
    ("rème b", ["ab-301"]),
    ("éclair", ["ab-301"]),  # id; non-ASCII; SKU any case
    ("e", ["7", "12", "15", "ab-301"]),
    ("30", ["ab-301"]),
    ("_", ["100"]),  # shorter than 3: a scan
    ("nothing like it", []),
    ("summer patio", ["7"]),
]


def _catalogue() -> None:
    import_data(
        {
            "workItems": [
                {"id": i["id"], "title": i["title"], "status": i["status"]}
                | (
                    {
                        "lifestylePack": {
                            "exportPlan": [
                                {
                                    "shot_id": "S-1",
                                    "sku": i["sku"],
                                    "size_label": "Desktop",
                                    "width": 1920,
                                    "height": 800,
                                    "filename": f"fcc/lifestyle/{i['id']}/S-1/desktop.png",
                                }
                            ]
                        }
                    }
                    if i["sku"]
                    else {}
                )
                for i in ITEMS
            ]
        }
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def catalogue(request, db, monkeypatch):
    if request.param == "postgresql":
        monkeypatch.setenv("RESHOOT_DATABASE_URL", request.getfixturevalue("postgres_url"))
        get_settings.cache_clear()
        migrate()
    _catalogue()
    return request.param


def _found(term: str) -> list[str]:
    page = list_work_items(search=term, page_size=100)
    assert page.total == len(page.items)
    return [i.id for i in page.items]


def test_search_finds_substrings_of_ids_titles_and_skus(catalogue):
    for term, expected in CASES:
        assert _found(term) == expected, term


def test_a_search_pages_in_list_order_and_combines_with_filters(catalogue):
    """The search alone (on PostgreSQL the trigram union is the match set) and with filters (checked against the
    work items) page through the same matches in the list's order, with the same total."""
    more = [("300", "Kitchen stools", "open"), ("31", "Kitchen lights", "done")]
    import_data({"workItems": [{"id": i, "title": t, "status": st} for i, t, st in more]})
    pages = [list_work_items(search="kitchen", page=n, page_size=2) for n in (1, 2, 3)]
    assert [[i.id for i in p.items] for p in pages] == [["12", "31"], ["300"], []]
    assert [p.total for p in pages] == [3, 3, 3]
    opened = list_work_items(search="kitchen", status="open", page_size=100)
    assert [i.id for i in opened.items] == ["12", "300"] and opened.total == 2
    packed = list_work_items(search="kitchen", has_pack=True, page_size=100)
    assert [i.id for i in packed.items] == ["12"] and packed.total == 1
    assert list_work_items(search="kit-12", status="done").total == 0


def test_the_index_follows_inserts_updates_and_deletes(catalogue):
    import_data(
        {
            "workItems": [
                {"id": "12", "title": "Bathroom refresh", "status": "open"},
                {"id": "200", "title": "Garden kitchen", "status": "open"},
            ]
        }
    )
    assert _found("kitchen") == ["200"] and _found("bathroom") == ["12"]
    with session_scope() as s:
        shot = s.exec(text("SELECT id FROM shot WHERE sku = 'PAT-7-1'")).scalar()
        s.get(Shot, shot).sku = "LOUNGER-9"
    assert _found("pat-7") == [] and _found("lounger") == ["7"]
    with session_scope() as s:
        s.exec(text("DELETE FROM workitem WHERE id = '200'"))
    assert _found("kitchen") == []
    with session_scope() as s:
        s.add(WorkItem(id="300", title="Kitchen again"))
    assert _found("kitchen") == ["300"]


def _with_sku(id: str, title: str, sku: str) -> dict:
    row = {"shot_id": "S-1", "sku": sku, "size_label": "Desktop", "width": 1920, "height": 800}
    pack = {"exportPlan": [row | {"filename": f"fcc/lifestyle/{id}/S-1/desktop.png"}]}
    return {"id": id, "title": title, "status": "open", "lifestylePack": pack}


def test_a_capped_count_pages_through_the_same_matches(catalogue):
    """With a count limit, a search alone counts its matches only up to that many past the page's start; its pages
    are the same (the few matches sorted, or more of them found by walking the list order and checking each)."""
    import_data(
        {
            "workItems": [{"id": str(n), "title": f"Kitchen {n}", "status": "open"} for n in range(200, 212)]
            + [
                {"id": "k-1", "title": "\u212aitchen sink", "status": "open"},  # a Kelvin sign: FTS5 folds it to k
                {"id": "s-1", "title": "\u017ftraße", "status": "open"},  # a long s: FTS5 folds it to s
                _with_sku("40", "Pantry shelf", "KITCHEN-40"),  # found by its SKU alone
                _with_sku("41", "Kitchen shelf", "KITCHEN-41"),  # by its title and its SKU: counted once
                _with_sku("42", "Spice rack", "\u212aITCHEN-42"),  # by a SKU with a Kelvin sign
            ]
        }
    )
    for term in ("kitchen", "itchen s", "stra", "\u017ftr", "kit", "e", "pat-7", "nothing like it"):
        everything = list_work_items(search=term, page_size=1000)
        ids, n = [i.id for i in everything.items], everything.total
        for limit, size in ((1, 2), (3, 5), (4, 1), (50, 3)):
            last = max(1, -(-n // size))
            for page in sorted({1, 2, last, last + 1}):
                got = list_work_items(search=term, page=page, page_size=size, count_limit=limit)
                start = (page - 1) * size
                assert [i.id for i in got.items] == ids[start : start + size], (term, limit, size, page)
                capped = n > start + limit and len(term) >= 3  # a shorter term scans, and counts every match
                assert (got.total, got.total_capped) == ((start + limit, True) if capped else (n, False))


def test_a_capped_search_counts_then_reads_its_page(catalogue):
    """Two queries (the first matches, then the page), whichever way the page is found and past the end too."""
    from tests.test_work_items import count_queries

    settings = int(catalogue == "postgresql")  # the search's own planner settings
    import_data({"workItems": [{"id": "300", "title": "Kitchen stools", "status": "open"}]})
    cases = [({"count_limit": 1, "page_size": 1}, (1, True)), ({"count_limit": 50}, (2, False))]
    for options, counted in [*cases, ({"count_limit": 1, "page": 9}, (2, False))]:  # 12 and 300; past the end
        with count_queries() as sent:
            found = list_work_items(search="kitchen", **options)
        assert len(sent) == 2 + settings and (found.total, found.total_capped) == counted, (options, sent)
    with pytest.raises(ReshootError) as info:
        list_work_items(search="kitchen", count_limit=0)
    assert info.value.code == "INVALID_REQUEST"


def _plans(term: str) -> list[str]:
    """The query plans of the statements one search sends (SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN with
    sequential scans discouraged, as the search's own transaction does)."""
    engine, sent = get_engine(), []
    record = lambda conn, cursor, statement, parameters, *args: sent.append((statement, parameters))  # noqa: E731
    event.listen(engine, "before_cursor_execute", record)
    try:
        list_work_items(search=term)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    plans = []
    if engine.dialect.name == "postgresql":  # the search's own transaction takes the trigram indexes (see work_items)
        assert (sent[0][0] == PG_SEARCH_SETTINGS) == (len(term) >= 3), sent[0][0]
        sent = [s for s in sent if not s[0].startswith("SET ")]
    with engine.connect() as conn:
        for statement, parameters in sent:
            if engine.dialect.name == "sqlite":
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
                plans.append("\n".join(str(r[-1]) for r in rows))
            else:
                conn.exec_driver_sql("SET enable_seqscan = off")
                plans.append("\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()))
    return plans


def test_terms_of_three_or_more_characters_use_the_trigram_index(catalogue):
    for plan in _plans("kitchen"):
        if catalogue == "sqlite":
            assert (
                "SCAN workitem_search VIRTUAL TABLE INDEX" in plan and "SCAN shot_search VIRTUAL TABLE INDEX" in plan
            ), plan
            assert "SCAN workitem\n" not in plan + "\n" and "SCAN shot\n" not in plan + "\n", plan  # no row-by-row LIKE
        else:
            assert "ix_workitem_text_trgm" in plan and "ix_shot_sku_gist" in plan, plan
    short = "\n".join(_plans("ki"))
    assert "workitem_search" not in short and "trgm" not in short  # a two-character term scans, correctly


def test_search_survives_a_migration_that_rebuilds_the_tables(db, monkeypatch):
    """A batch migration on SQLite copies a table and drops its triggers; after any upgrade they are put back
    and the index refilled (by the migration environment, whatever the migration did)."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from services import search_index
    from services.db import alembic_config

    _catalogue()
    config = alembic_config()
    [search] = [r for r in ScriptDirectory.from_config(config).walk_revisions() if r.path.endswith("_search_index.py")]
    command.downgrade(config, search.revision)  # later migrations undone properly, so they can run again
    with get_engine().begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER workitem_search_insert")
        conn.exec_driver_sql("DELETE FROM workitem_search")  # as if the rows had been renumbered
    command.stamp(config, search.down_revision)
    monkeypatch.setattr(search_index, "install", lambda conn: None)  # the re-run migration itself repairs nothing
    migrate()
    assert _found("kitchen") == ["12"]
    import_data({"workItems": [{"id": "201", "title": "Kitchen two", "status": "open"}]})
    assert _found("kitchen") == ["12", "201"]


def test_a_large_import_refreshes_postgresqls_statistics(postgres_url, data_dir, monkeypatch):
    """Planned from stale statistics, a search of freshly imported work items took seconds (a nested loop)."""
    monkeypatch.setenv("RESHOOT_DATABASE_URL", postgres_url)
    get_settings.cache_clear()
    migrate()

    def analysed() -> int:
        with get_engine().connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_user_tables WHERE relname IN ('workitem', 'shot') "
                    "AND last_analyze IS NOT NULL"
                )
            ).scalar()

    import_data({"workItems": [{"id": str(i), "title": f"Item {i}", "status": "open"} for i in range(10)]})
    assert analysed() == 0  # a small import leaves it to autovacuum
    import_data({"workItems": [{"id": str(i), "title": f"Item {i}", "status": "open"} for i in range(10, 1_100)]})
    assert analysed() == 2


def test_postgresqls_gin_index_keeps_no_pending_list(postgres_url, data_dir, monkeypatch):
    """With GIN's fast update, inserted rows wait in a pending list that every search reads in full (4 MB after a
    bulk insert); the work items' index is kept without one, and an upgrade merges the list it had."""
    from alembic import command

    from services.db import alembic_config

    monkeypatch.setenv("RESHOOT_DATABASE_URL", postgres_url)
    get_settings.cache_clear()
    migrate()

    def options() -> list[str] | None:
        with get_engine().connect() as conn:
            return conn.execute(
                text("SELECT reloptions FROM pg_class WHERE relname = 'ix_workitem_text_trgm'")
            ).scalar()

    def pending_pages() -> int:  # merges the pending list, and says how many pages it had
        with get_engine().connect() as conn:
            return conn.execute(text("SELECT gin_clean_pending_list('ix_workitem_text_trgm')")).scalar_one()

    assert options() == ["fastupdate=off"]
    command.downgrade(alembic_config(), "0015")
    assert options() is None
    import_data({"workItems": [{"id": str(i), "title": f"Kitchen {i}", "status": "open"} for i in range(50)]})
    migrate()
    assert options() == ["fastupdate=off"]
    import_data({"workItems": [{"id": str(i), "title": f"Kitchen {i}", "status": "open"} for i in range(50, 100)]})
    assert pending_pages() == 0
    assert _found("kitchen")[:3] == ["0", "1", "2"]


def test_a_large_import_merges_sqlites_search_indexes(db):
    """Each transaction's inserts add a segment to an FTS5 index, which a search reads one by one; after a large
    import they are merged into one."""

    def segments() -> list[int]:
        with get_engine().connect() as conn:
            return [
                conn.execute(text(f"SELECT count(DISTINCT segid) FROM {table}_idx")).scalar_one()
                for table in ("workitem_search", "shot_search")
            ]

    for start in (0, 10):
        import_data({"workItems": [_with_sku(str(i), f"Kitchen {i}", f"KIT-{i}") for i in range(start, start + 10)]})
    assert min(segments()) > 1  # a small import leaves them to FTS5's automerge
    import_data({"workItems": [_with_sku(str(i), f"Kitchen {i}", f"KIT-{i}") for i in range(20, 400)]})
    assert segments() == [1, 1]
    assert _found("kit-399") == ["399"] and list_work_items(search="kitchen").total == 400
