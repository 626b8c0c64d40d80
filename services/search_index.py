"""Substring search indexes for work item ids, titles and shot SKUs, kept in step with the rows by the database.

SQLite: FTS5 tables with the trigram tokenizer over the rows (external content, no copy of the text), kept by
triggers. PostgreSQL: pg_trgm indexes (GIN over work items' text, GiST over SKUs), which `ILIKE '%term%'` uses. Both answer substrings of 3 or more
characters; shorter terms are matched by a plain scan (see `services.work_items`).

The schema objects live outside the SQLModel models (the models cannot declare them), so the migration
comparison and autogenerate skip them by name (`is_search_object`). SQLite's batch migrations rebuild a table by
copying it, which drops its triggers and can renumber a work item's implicit rowid; `repair_sqlite` (run by
`services.db.migrate` after any upgrade) re-creates the triggers and rebuilds the indexes.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from services.db import get_engine

WORK_ITEM_FTS = "workitem_search"
SHOT_FTS = "shot_search"
# A work item's id and title as one indexed text (chr(31), the unit separator, keeps a term from matching across
# the two): one GIN index the planner prefers to a scan, where two (a BitmapOr) cost more than scanning 100,000 rows.
PG_WORK_ITEM_TEXT = "(workitem.id || chr(31) || workitem.title)"
# SKUs share trigrams (every one of 'SKU-7-2', 'SKU-77-1', … has 'sku' and 'ku-'), and a GIN index reads each of a
# term's trigrams' posting lists, one entry per shot, before it intersects them (11 ms for one SKU among 270,000
# shots). A GiST index descends by signatures of whole SKUs instead (0.5 ms; siglen 64 bytes, not the default 12,
# keeps the upper pages' signatures from filling up) and yields its matches one by one (a LIMIT stops it).
PG_INDEXES = {
    "ix_workitem_text_trgm": ("workitem", "(id || chr(31) || title)", "gin", "gin_trgm_ops"),
    "ix_shot_sku_gist": ("shot", "sku", "gist", "gist_trgm_ops(siglen=64)"),
}
# GIN's fast update puts new entries in a pending list that every search reads in full until VACUUM merges it: after a
# bulk insert of 100,000 work items, 492 pages (4 MB, up to `gin_pending_list_limit`), and a title search's bitmap
# took 9-16 ms instead of 1.3 ms. Without it each insert updates the index's entries itself (migration 0016).
PG_GIN_WITHOUT_PENDING_LIST = ("ix_workitem_text_trgm",)
# migration 0007's, before 0010 (id, title) and 0015 (SKU's GIN)
PG_REPLACED_INDEXES = ("ix_workitem_id_trgm", "ix_workitem_title_trgm", "ix_shot_sku_trgm")
MIN_INDEXED_TERM = 3  # trigrams: shorter terms cannot use the index

_SQLITE_TABLES = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {WORK_ITEM_FTS} USING fts5(id, title, content='workitem', "
    "content_rowid='rowid', tokenize='trigram')",
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {SHOT_FTS} USING fts5(sku, content='shot', content_rowid='id', "
    "tokenize='trigram')",
]
_SQLITE_TRIGGERS = {
    "workitem_search_insert": f"""CREATE TRIGGER workitem_search_insert AFTER INSERT ON workitem BEGIN
        INSERT INTO {WORK_ITEM_FTS}(rowid, id, title) VALUES (new.rowid, new.id, new.title); END""",
    "workitem_search_delete": f"""CREATE TRIGGER workitem_search_delete AFTER DELETE ON workitem BEGIN
        INSERT INTO {WORK_ITEM_FTS}({WORK_ITEM_FTS}, rowid, id, title) VALUES ('delete', old.rowid, old.id, old.title); END""",
    "workitem_search_update": f"""CREATE TRIGGER workitem_search_update AFTER UPDATE OF id, title ON workitem BEGIN
        INSERT INTO {WORK_ITEM_FTS}({WORK_ITEM_FTS}, rowid, id, title) VALUES ('delete', old.rowid, old.id, old.title);
        INSERT INTO {WORK_ITEM_FTS}(rowid, id, title) VALUES (new.rowid, new.id, new.title); END""",
    "shot_search_insert": f"""CREATE TRIGGER shot_search_insert AFTER INSERT ON shot BEGIN
        INSERT INTO {SHOT_FTS}(rowid, sku) VALUES (new.id, new.sku); END""",
    "shot_search_delete": f"""CREATE TRIGGER shot_search_delete AFTER DELETE ON shot BEGIN
        INSERT INTO {SHOT_FTS}({SHOT_FTS}, rowid, sku) VALUES ('delete', old.id, old.sku); END""",
    "shot_search_update": f"""CREATE TRIGGER shot_search_update AFTER UPDATE OF id, sku ON shot BEGIN
        INSERT INTO {SHOT_FTS}({SHOT_FTS}, rowid, sku) VALUES ('delete', old.id, old.sku);
        INSERT INTO {SHOT_FTS}(rowid, sku) VALUES (new.id, new.sku); END""",
}


def is_search_object(name: str | None) -> bool:
    """The FTS tables (and their shadow tables) and trigram indexes: not in the models, skipped by comparisons."""
    if not name:
        return False
    return name.startswith((WORK_ITEM_FTS, SHOT_FTS)) or name in PG_INDEXES or name in PG_REPLACED_INDEXES


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's `include_name`: compare and autogenerate leave the search objects alone."""
    return not is_search_object(name)


def install(conn: Connection) -> None:
    """Create the indexes for this database's dialect and fill them from the existing rows."""
    if conn.dialect.name == "sqlite":
        repair_sqlite(conn, rebuild=True)
    elif conn.dialect.name == "postgresql":
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        for name in PG_REPLACED_INDEXES:
            conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
        for name, (table, indexed, method, opclass) in PG_INDEXES.items():
            conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING {method} ({indexed} {opclass})"))
        for name in PG_GIN_WITHOUT_PENDING_LIST:
            conn.execute(text(f"ALTER INDEX {name} SET (fastupdate = off)"))
            conn.execute(text("SELECT gin_clean_pending_list(CAST(:name AS regclass))"), {"name": name})


def upgrade_postgresql(conn: Connection) -> None:
    """A migration that changes PostgreSQL's indexes: the current ones replace the old (SQLite's are left as they are,
    a rebuild of FTS5 tables being for nothing)."""
    if conn.dialect.name == "postgresql":
        install(conn)


def downgrade_postgresql(conn: Connection, dropped: str, restored: dict[str, tuple[str, str]]) -> None:
    """A migration undone on PostgreSQL: its index dropped, the GIN trigram indexes it replaced ({name: (table,
    indexed expression)}) put back."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"DROP INDEX IF EXISTS {dropped}"))
        for name, (table, indexed) in restored.items():
            conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({indexed} gin_trgm_ops)"))


def downgrade_gin_pending_list(conn: Connection) -> None:
    """Migration 0016 undone on PostgreSQL: GIN's fast update (the default) back on."""
    if conn.dialect.name == "postgresql":
        for name in PG_GIN_WITHOUT_PENDING_LIST:
            conn.execute(text(f"ALTER INDEX IF EXISTS {name} RESET (fastupdate)"))


def uninstall(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        for name in _SQLITE_TRIGGERS:
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        for table in (WORK_ITEM_FTS, SHOT_FTS):
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
    elif conn.dialect.name == "postgresql":
        for name in (*PG_INDEXES, *PG_REPLACED_INDEXES):
            conn.execute(text(f"DROP INDEX IF EXISTS {name}"))


def sqlite_installed(conn: Connection) -> bool:
    found = conn.execute(
        text("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = :name"), {"name": WORK_ITEM_FTS}
    ).scalar()
    return bool(found)


def repair_sqlite(conn: Connection, *, rebuild: bool) -> None:
    """Tables and triggers that are missing are created; with `rebuild`, the indexes are refilled from the rows."""
    for statement in _SQLITE_TABLES:
        conn.execute(text(statement))
    present = {row[0] for row in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))}
    for name, statement in _SQLITE_TRIGGERS.items():
        if name not in present:
            conn.execute(text(statement))
    if rebuild:
        for table in (WORK_ITEM_FTS, SHOT_FTS):
            conn.execute(text(f"INSERT INTO {table}({table}) VALUES ('rebuild')"))


def refresh_statistics() -> None:
    """After a large import. PostgreSQL plans a search from its table statistics, which still describe the old
    tables (autovacuum refreshes them within minutes): a search of 20,000 fresh work items was planned for 2 matches
    and took 15 s instead of 0.3 s. ANALYZE samples the tables at once. SQLite: FTS has no plan, but each
    transaction's inserts add segments to an FTS5 index, which a search reads one by one (automerge only bounds
    them); merged into one ('optimize'), a SKU among 270,000 shots was found in 0.17 ms instead of 0.38, one
    among 270 in 0.02 instead of 0.09."""
    engine = get_engine()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE workitem, shot, lifestylepack, exportplanrow"))
        elif engine.dialect.name == "sqlite":
            for table in (WORK_ITEM_FTS, SHOT_FTS):
                conn.execute(text(f"INSERT INTO {table}({table}) VALUES ('optimize')"))
