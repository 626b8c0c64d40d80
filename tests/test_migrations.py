"""Alembic migrations on SQLite and the machine's PostgreSQL: upgrading keeps rows, twice is a no-op, models match."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from services import search_index
from services.db import alembic_config, engine_for, head_revision, migrate
from services.importer import import_data
from services.work_items import get_work_item, list_work_items

# Rows written as a 0001 database had them, in plain SQL (no models involved).
ROWS_AT_0001 = [
    "INSERT INTO workitem (id, title, status, created_at, updated_at) VALUES ('7', 'Patio', 'open', '2026-01-02 03:04:05', '2026-01-02 03:04:05')",
    "INSERT INTO lifestylepack (id, work_item_id, version, created_at) VALUES (1, '7', 'v2', '2026-01-02 03:04:05')",
    "INSERT INTO shot (id, pack_id, work_item_id, shot_id, sku, prompt, position, locked, focal_x, focal_y) "
    "VALUES (1, 1, '7', 'OL-1', 'SKU-1', 'a teak sofa', 0, FALSE, 0.5, 0.5)",
    "INSERT INTO exportplanrow (id, shot_pk, work_item_id, size_label, width, height, filename, position) "
    "VALUES (1, 1, '7', 'Desktop', 1920, 800, 'fcc/lifestyle/7/OL-1/desktop.png', 0)",
    "INSERT INTO project (id, title, created_at) VALUES ('p', 'Story', '2026-01-02 03:04:05')",
    "INSERT INTO section (id, project_id, title, position) VALUES ('sec_1', 'p', 'One', 0)",
    "INSERT INTO sentence (id, section_id, project_id, position, text, image_prompt, is_image_dirty, is_video_dirty, updated_at) "
    "VALUES ('sent_001', 'sec_1', 'p', 0, 'Hello.', 'a farm', TRUE, FALSE, '2026-01-02 03:04:05')",
]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, data_dir):
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{data_dir / 'migrations.db'}"


def _head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _revision(url: str) -> str | None:
    with engine_for(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _schema(url: str) -> dict:
    inspector = inspect(engine_for(url))
    return {
        table: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)),
        )
        for table in sorted(inspector.get_table_names())
    }


def test_upgrading_an_existing_database_keeps_its_rows(database_url, monkeypatch):
    migrate("0001", url=database_url)
    with engine_for(database_url).begin() as conn:
        for statement in ROWS_AT_0001:
            conn.execute(text(statement))
    migrate("head", url=database_url)
    assert _revision(database_url) == _head()
    with engine_for(database_url).connect() as conn:
        assert conn.execute(text("SELECT title FROM workitem WHERE id = '7'")).scalar() == "Patio"
        assert conn.execute(text("SELECT filename FROM exportplanrow")).scalar() == "fcc/lifestyle/7/OL-1/desktop.png"
        assert conn.execute(text("SELECT image_prompt FROM sentence WHERE id = 'sent_001'")).scalar() == "a farm"
    # ...and the application reads them through the upgraded schema.
    monkeypatch.setenv("RESHOOT_DATABASE_URL", database_url)
    from services.config import get_settings

    get_settings.cache_clear()
    item = get_work_item("7")
    assert item.shots[0].prompt == "a teak sofa" and item.shots[0].rows[0].width == 1920
    # ...and the search indexes were filled from the rows that were already there.
    assert [i.id for i in list_work_items(search="atio").items] == ["7"]
    assert [i.id for i in list_work_items(search="sku-1").items] == ["7"]


def test_migrating_twice_changes_nothing(database_url, monkeypatch):
    migrate(url=database_url)
    monkeypatch.setenv("RESHOOT_DATABASE_URL", database_url)
    from services.config import get_settings

    get_settings.cache_clear()
    import_data({"workItems": [{"id": "7", "title": "Patio", "status": "open"}]})
    schema = _schema(database_url)
    migrate(url=database_url)
    assert _schema(database_url) == schema
    assert _revision(database_url) == _head()
    with engine_for(database_url).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM workitem")).scalar() == 1


def test_a_schema_at_the_head_is_found_by_one_query_and_one_behind_is_upgraded(database_url, monkeypatch):
    from alembic import command

    assert head_revision() == _head()
    previous = ScriptDirectory.from_config(alembic_config()).get_revision(_head()).down_revision
    migrate(previous, url=database_url)
    migrate(url=database_url)
    assert _revision(database_url) == _head()

    def refuse(*args, **kwargs):
        raise AssertionError("Alembic ran on a schema already at its head")

    monkeypatch.setattr(command, "upgrade", refuse)
    migrate(url=database_url)


def test_the_models_match_the_migrations(database_url):
    migrate(url=database_url)
    with engine_for(database_url).connect() as conn:
        # The search indexes (FTS5 tables and their shadow tables, trigram indexes) are not models: skipped by name.
        context = MigrationContext.configure(conn, opts={"include_name": search_index.include_name})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_0006_marks_openai_versions_as_not_having_used_their_seed(database_url):
    migrate("0005", url=database_url)
    with engine_for(database_url).begin() as conn:
        for number, backend in enumerate(("openai", "local", "comfyui"), start=1):
            conn.execute(
                text(
                    "INSERT INTO imageversion (target_kind, target_id, version, storage_key, width, height, prompt, seed,"
                    ' backend, "references", created_at, favourite, locked, file_deleted, review_state)'
                    f" VALUES ('sentence', 'sent_001', {number}, 'k{number}.png', 8, 8, 'p', 7, '{backend}', '[]',"
                    " '2026-01-02 03:04:05', FALSE, FALSE, FALSE, 'pending')"
                )
            )
    migrate("head", url=database_url)
    with engine_for(database_url).connect() as conn:
        rows = conn.execute(text("SELECT backend, seed_honoured FROM imageversion ORDER BY version")).all()
    assert [(backend, bool(honoured)) for backend, honoured in rows] == [
        ("openai", False),
        ("local", True),
        ("comfyui", True),
    ]


def test_duplicate_references_are_merged_and_then_refused(database_url):
    """0008: parallel uploads left one image stored several times for a shot; the oldest row stays, versions made
    with a duplicate point at it, and the database refuses a new duplicate."""
    migrate("0007", url=database_url)
    reference = (
        "INSERT INTO reference (id, work_item_id, shot_id, storage_key, filename, content_type, width, height, "
        "sha256, created_at) VALUES ('{id}', '7', '{shot}', 'k/{id}.png', 'a.png', 'image/png', 1, 1, '{sha}', '{at}')"
    )
    with engine_for(database_url).begin() as conn:
        conn.execute(text(ROWS_AT_0001[0]))
        for ref_id, shot, sha, at in [
            ("ref_old", "OL-1", "aa", "2026-01-01"),
            ("ref_dup1", "OL-1", "aa", "2026-01-02"),
            ("ref_dup2", "OL-1", "aa", "2026-01-03"),
            ("ref_other", "OL-1", "bb", "2026-01-02"),
            ("ref_shot2", "OL-2", "aa", "2026-01-02"),
        ]:
            conn.execute(text(reference.format(id=ref_id, shot=shot, sha=sha, at=at)))
        conn.execute(
            text(
                "INSERT INTO imageversion (target_kind, target_id, version, storage_key, width, height, prompt, backend, "
                "\"references\", created_at, favourite, locked, file_deleted, review_state) VALUES ('hero', '1', 1, 'v.png', "
                "1, 1, 'p', 'local', '[\"ref_dup1\", \"ref_other\", \"ref_old\"]', '2026-01-04', FALSE, FALSE, FALSE, 'pending')"
            )
        )
    migrate("head", url=database_url)
    with engine_for(database_url).begin() as conn:
        assert [r[0] for r in conn.execute(text("SELECT id FROM reference ORDER BY id"))] == [
            "ref_old",
            "ref_other",
            "ref_shot2",
        ]
        used = conn.execute(text('SELECT "references" FROM imageversion')).scalar()
        assert (used if isinstance(used, list) else __import__("json").loads(used)) == ["ref_old", "ref_other"]
    with pytest.raises(Exception, match=r"(?i)unique"), engine_for(database_url).begin() as conn:
        conn.execute(text(reference.format(id="ref_new", shot="OL-1", sha="aa", at="2026-01-05")))
