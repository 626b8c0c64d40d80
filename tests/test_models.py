"""The tables: ids, relationships, constraints and indexes, as the migrated database has them."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, select

from services.db import session_scope
from services.models import (
    CastMember,
    Event,
    ExportPlanRow,
    ImageVersion,
    Job,
    LifestylePack,
    Project,
    Reference,
    Section,
    Sentence,
    Shot,
    WorkItem,
    new_id,
)


def _pack(session, work_item_id: str = "7") -> Shot:
    session.add(WorkItem(id=work_item_id, title="Patio", status="open"))
    session.flush()
    pack = LifestylePack(work_item_id=work_item_id)
    session.add(pack)
    session.flush()
    shot = Shot(pack_id=pack.id, work_item_id=work_item_id, shot_id="OL-1", sku="SKU-1", prompt="a sofa")
    session.add(shot)
    session.flush()
    return shot


def test_new_id_has_the_seed_prefix():
    ids = {new_id("ref") for _ in range(100)}
    assert len(ids) == 100 and all(re.fullmatch(r"ref_[0-9a-f]{12}", i) for i in ids)


def test_default_ids_carry_their_prefix(db):
    with session_scope() as s:
        shot = _pack(s)
        ref = Reference(
            work_item_id="7",
            shot_id="OL-1",
            storage_key="k.png",
            filename="k.png",
            content_type="image/png",
            width=1,
            height=1,
            sha256="x",
        )
        s.add(Project(id="p", title="P"))
        s.flush()
        section = Section(project_id="p", title="S")
        s.add(section)
        s.flush()
        sentence = Sentence(section_id=section.id, project_id="p", text="Hi")
        job = Job(kind="lifestyle_heroes", target_key="heroes:7", work_item_id="7")
        s.add_all([ref, sentence, job, CastMember(project_id="p", name="Ana", reference_images=["a.png"])])
    assert ref.id.startswith("ref_") and sentence.id.startswith("sent_") and job.id.startswith("job_")
    assert section.id.startswith("sec_") and shot.id is not None


def test_a_whole_graph_round_trips(db):
    with session_scope() as s:
        shot = _pack(s)
        row = ExportPlanRow(
            shot_pk=shot.id,
            work_item_id="7",
            size_label="Desktop",
            width=1920,
            height=800,
            filename="fcc/lifestyle/7/OL-1/desktop.png",
        )
        s.add(row)
        s.flush()
        version = ImageVersion(
            target_kind="hero",
            target_id=str(row.id),
            version=1,
            storage_key="fcc/x.png",
            width=1920,
            height=800,
            prompt="a sofa",
            seed=2**40,
            backend="local",
            references=["ref_1", "ref_2"],
        )
        s.add(version)
        s.flush()
        row.current_version_id = version.id
        s.add(
            Job(
                kind="lifestyle_heroes",
                target_key="heroes:7",
                params={"shotIds": ["OL-1"], "overwrite": True},
                result={"generated": []},
            )
        )
        s.add(Event(work_item_id="7", type="job_complete", payload={"jobType": "image"}))
    with session_scope() as s:
        stored = s.exec(select(ExportPlanRow)).one()
        current = s.get(ImageVersion, stored.current_version_id)
        job = s.exec(select(Job)).one()
        event = s.exec(select(Event)).one()
    assert (current.seed, current.references, current.review_state) == (2**40, ["ref_1", "ref_2"], "pending")
    assert job.params == {"shotIds": ["OL-1"], "overwrite": True} and job.status == "queued"
    assert event.payload == {"jobType": "image"}
    assert current.created_at.tzinfo is not None


def test_foreign_keys_are_enforced(db):
    with pytest.raises(IntegrityError), session_scope() as s:
        s.add(LifestylePack(work_item_id="missing"))


def test_a_shot_id_is_unique_within_its_work_item(db):
    with session_scope() as s:
        shot = _pack(s)
    with pytest.raises(IntegrityError), session_scope() as s:
        s.add(Shot(pack_id=shot.pack_id, work_item_id="7", shot_id="OL-1", sku="SKU-2"))


def test_one_active_job_per_target(db):
    with session_scope() as s:
        s.add(Job(kind="k", target_key="heroes:7", status="succeeded"))
        s.add(Job(kind="k", target_key="heroes:7", status="queued"))
    with pytest.raises(IntegrityError), session_scope() as s:
        s.add(Job(kind="k", target_key="heroes:7", status="running"))


def test_every_foreign_key_and_filter_column_is_indexed(db):
    inspector = inspect(db)
    for table in SQLModel.metadata.sorted_tables:
        leading = {index["column_names"][0] for index in inspector.get_indexes(table.name)}
        leading |= {u["column_names"][0] for u in inspector.get_unique_constraints(table.name)}
        leading |= set(inspector.get_pk_constraint(table.name)["constrained_columns"][:1])
        for fk in inspector.get_foreign_keys(table.name):
            assert fk["constrained_columns"][0] in leading, f"{table.name}.{fk['constrained_columns'][0]} has no index"
    for table, column in (
        ("workitem", "status"),
        ("workitem", "title"),
        ("shot", "sku"),
        ("job", "status"),
        ("imageversion", "review_state"),
    ):
        assert column in {i["column_names"][0] for i in inspector.get_indexes(table)}, f"{table}.{column}"


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(db):
    with db.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
