"""Crash leftovers swept (`python -m services gc`, worker start): orphan versions, references, `.tmp-*` files —
never a file a row points at, never one younger than the grace period, never a key that is not ours."""

from __future__ import annotations

import json
import os
import time

import pytest
from sqlmodel import select

from services import cli, jobs, sweeper, versions
from services.db import session_scope
from services.models import ExportPlanRow
from services.storage import LocalStorage, get_storage

HOUR = 3600


@pytest.fixture(params=["local", "s3"])
def store(request, demo):
    if request.param == "s3":
        request.getfixturevalue("s3_env")
    return get_storage()


def hero_row() -> ExportPlanRow:
    with session_scope() as s:
        return s.exec(select(ExportPlanRow).where(ExportPlanRow.filename == "fcc/lifestyle/7/OL-1/desktop.png")).one()


def committed_version(row: ExportPlanRow, n: int) -> tuple[str, str]:
    new = versions.NewImage("hero", str(row.id), row.filename, bytes([n]) * 32, 8, 8, "p", n, "fake", thumbnail=b"t")
    [version] = versions.save_new_versions([new], lambda s, vs: versions.set_current(s, vs[0]))
    versions.publish_current(row.id)
    return version.storage_key, version.thumb_key


LEFTOVERS = [
    "fcc/lifestyle/7/OL-1/desktop.v9-abcdef.png",  # a version written, its row never committed
    "fcc/lifestyle/7/OL-1/desktop.v9-abcdef.thumb.webp",
    "fcc/lifestyle_refs/7/OL-1/ref_0123456789ab.png",  # an upload that never committed
    "fcc/lifestyle_refs/7/OL-1/ref_0123456789ab.thumb.webp",
    "health/probe-1a2b3c4d.txt",
]
NOT_OURS = ["exports/client-report.pdf", "fcc/lifestyle/7/OL-1/notes.txt"]


def age(store, keys: list[str], seconds: float) -> None:
    """Make local files look `seconds` old (S3 keeps its own LastModified: tests there use grace 0)."""
    if isinstance(store, LocalStorage):
        for key in keys:
            then = time.time() - seconds
            os.utime(store.path(key), (then, then))


def test_sweep_deletes_orphans_and_keeps_everything_a_row_points_at(store):
    row = hero_row()
    live = committed_version(row, 1)
    for key in [*LEFTOVERS, *NOT_OURS]:
        store.put(key, b"x")
    local = isinstance(store, LocalStorage)
    if local:
        temp = store.path(row.filename).parent / ".tmp-k1ll3d"
        temp.write_bytes(b"")  # a zero-byte file a killed write left
    grace = HOUR if local else 0
    age(store, [*LEFTOVERS, *NOT_OURS, *live, row.filename], 2 * HOUR)
    if local:
        os.utime(temp, (time.time() - 2 * HOUR,) * 2)

    dry = sweeper.sweep(grace_seconds=grace, dry_run=True)
    expected = sorted(LEFTOVERS + (["fcc/lifestyle/7/OL-1/.tmp-k1ll3d"] if local else []))
    assert dry.deleted == expected
    assert all(store.exists(key) for key in LEFTOVERS)  # a dry run changes nothing

    report = sweeper.sweep(grace_seconds=grace)
    assert report.deleted == expected
    remaining = set(store.list())
    assert not remaining & set(LEFTOVERS)
    assert {*live, row.filename, *NOT_OURS} <= remaining
    if local:
        assert not temp.exists()
    assert store.get(row.filename) == bytes([1]) * 32


def test_files_inside_the_grace_period_are_kept(demo):
    """A version being written right now has its file before its row: a fresh orphan-looking file stays."""
    store = get_storage()
    store.put(LEFTOVERS[0], b"being written")
    report = sweeper.sweep()  # default grace: RESHOOT_GC_GRACE_SECONDS (an hour)
    assert report.deleted == [] and report.young == 1
    assert store.exists(LEFTOVERS[0])


def test_retention_leftovers_are_swept_but_live_versions_never(store):
    """A version row retention marked deleted whose file delete failed: the stray file goes; live ones stay."""
    row = hero_row()
    first = committed_version(row, 1)
    second = committed_version(row, 2)
    with session_scope() as s:
        from services.models import ImageVersion

        old = s.exec(select(ImageVersion).where(ImageVersion.storage_key == first[0])).one()
        old.file_deleted = True  # as apply_retention does before deleting the files
        s.add(old)
    age(store, [*first, *second], 2 * HOUR)
    report = sweeper.sweep(grace_seconds=HOUR if isinstance(store, LocalStorage) else 0)
    assert report.deleted == sorted(first)
    assert store.exists(second[0]) and store.exists(second[1])


def test_gc_command_prints_what_it_did(demo, capsys):
    store = get_storage()
    store.put(LEFTOVERS[2], b"x")
    age(store, [LEFTOVERS[2]], 2 * HOUR)
    assert cli.main(["gc", "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["deleted"] == [LEFTOVERS[2]]
    assert store.exists(LEFTOVERS[2])
    assert cli.main(["gc"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is True and out["deleted"] == [LEFTOVERS[2]]
    assert not store.exists(LEFTOVERS[2])


def test_worker_start_sweeps(demo):
    store = get_storage()
    store.put(LEFTOVERS[0], b"x")
    age(store, [LEFTOVERS[0]], 2 * HOUR)
    jobs.start_embedded_worker()
    deadline = time.monotonic() + 20
    while store.exists(LEFTOVERS[0]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not store.exists(LEFTOVERS[0])


def test_maintenance_sweeps_again_every_interval(demo, monkeypatch):
    from services.config import get_settings

    monkeypatch.setenv("RESHOOT_GC_INTERVAL_SECONDS", "0.2")
    get_settings.cache_clear()
    store = get_storage()
    sweeper.start_maintenance()
    time.sleep(0.5)  # the first round has run; this orphan appears after it
    store.put(LEFTOVERS[2], b"x")
    age(store, [LEFTOVERS[2]], 2 * HOUR)
    deadline = time.monotonic() + 20
    while store.exists(LEFTOVERS[2]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not store.exists(LEFTOVERS[2])
