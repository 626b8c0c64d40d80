"""Served = current: a hero's stable file holds the current version's bytes after a crash between the pointer move
and the publish, and whatever order overlapping publishes finish in — on local storage and on S3 (SeaweedFS)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time

import pytest
import requests
from sqlalchemy import text
from sqlmodel import select
from starlette.datastructures import Headers

from bench.fixtures import attach_versions, work_item
from services import jobs, lifestyle, sweeper, versions
from services.api.assets import REDIRECT_MAX_AGE, asset_response
from services.db import session_scope
from services.models import ExportPlanRow, ImageVersion, Shot
from services.storage import IMMUTABLE, REVALIDATE, LocalStorage, S3Storage, get_storage
from tests.servers import PROJECT_ROOT

SIZES = [("Desktop", 96, 40, "desktop.png"), ("Tablet", 77, 38, "tablet.png"), ("Mobile", 40, 52, "mobile.png")]

# Run in a child process: generate S-1 of work item "t1" through the CLI, and die by SIGKILL at the moment the
# pointer has moved and the stable copy is about to be published.
KILL_AT_PUBLISH = """
import os, signal, sys
from services import lifestyle
lifestyle.publish_current_many = lambda row_ids, **_: os.kill(os.getpid(), signal.SIGKILL)
from services.cli import main
sys.exit(main(["generate-heroes", "t1", "--shot", "S-1", "--overwrite", "--wait"]))
"""


@pytest.fixture(params=["local", "s3"])
def storage_kind(request):
    if request.param == "s3":
        request.getfixturevalue("s3_env")
    return request.param


@pytest.fixture
def tiny(storage_kind, demo):
    """Work item "t1": two shots with tiny export sizes."""
    from services.importer import import_data

    plan = [
        {
            "shot_id": f"S-{n}",
            "sku": f"SKU-{n}",
            "size_label": label,
            "width": w,
            "height": h,
            "filename": f"fcc/lifestyle/t1/S-{n}/{name}",
        }
        for n in (1, 2)
        for label, w, h, name in SIZES
    ]
    shots = [{"shot_id": f"S-{n}", "sku": f"SKU-{n}", "prompt": f"tiny scene {n}"} for n in (1, 2)]
    import_data(
        {
            "workItems": [
                {
                    "id": "t1",
                    "title": "Tiny",
                    "status": "open",
                    "lifestylePack": {"version": "v2", "shots": shots, "exportPlan": plan},
                }
            ]
        }
    )
    return "t1"


def rows(shot_id: str = "S-1") -> list[ExportPlanRow]:
    return rows_on_shot("t1", shot_id)


def current_bytes(row: ExportPlanRow) -> bytes:
    with session_scope() as s:
        return get_storage().get(s.get(ImageVersion, row.current_version_id).storage_key)


def served_bytes(key: str) -> tuple[bytes, str]:
    """What GET /assets/{key} delivers to a browser (following S3's redirect), and its Cache-Control."""
    response = asset_response(key, Headers())
    if isinstance(get_storage(), LocalStorage):
        return response.path and open(response.path, "rb").read(), response.headers["cache-control"]
    followed = requests.get(response.headers["location"], timeout=10)
    assert followed.status_code == 200
    return followed.content, response.headers["cache-control"]


def generate(shot_id: str = "S-1") -> dict:
    started = lifestyle.start_heroes_job(
        work_item_id="t1", options=lifestyle.GenerateHeroesOptions(shot_ids=[shot_id], overwrite=True)
    )
    job = jobs.wait_for_job(started.job_id, timeout=60)
    assert job.status == "succeeded", job
    return job


def wait_until(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_a_kill_between_pointer_move_and_publish_is_repaired_at_worker_start(tiny):
    generate()
    before = {row.id: get_storage().get(row.filename) for row in rows()}
    jobs.stop_embedded_worker()  # the child must run its job itself
    sweeper.stop_maintenance()

    child = subprocess.run(
        [sys.executable, "-c", KILL_AT_PUBLISH],
        cwd=PROJECT_ROOT,
        env=dict(os.environ),
        capture_output=True,
        timeout=120,
    )
    assert child.returncode == -9, child.stderr.decode()[-2000:]

    for row in rows():
        assert row.published_version_id != row.current_version_id  # the crash happened where it was aimed
        assert get_storage().get(row.filename) == before[row.id] != current_bytes(row)  # the stale copy is there…
        served, cache_control = served_bytes(row.filename)
        assert served == current_bytes(row)  # …but /assets serves the current version all the same
        assert cache_control == REVALIDATE
    assert versions.stale_stable_copies() == [row.id for row in rows()]

    jobs.start_embedded_worker()  # the worker start hook reconciles
    assert wait_until(lambda: versions.stale_stable_copies() == [])
    for row in rows():
        assert get_storage().get(row.filename) == current_bytes(row)


def test_overlapping_publishes_leave_the_last_pointer_published(tiny):
    """Job A moves the pointer, job B moves it again and publishes, then A's late publish runs: B stays."""
    generate()
    row = rows()[0]
    add_version = lambda n: versions.save_new_versions(  # noqa: E731
        [
            versions.NewImage(
                "hero",
                str(row.id),
                row.filename,
                bytes([n]) * 64,
                row.width,
                row.height,
                f"p{n}",
                n,
                "fake",
                thumbnail=b"thumb",
            )
        ],
        lambda s, vs: versions.set_current(s, vs[0]),
    )[0]
    add_version(1)  # A's pointer move
    b = add_version(2)  # B's pointer move…
    assert versions.publish_current(row.id)  # …and B's publish
    assert not versions.publish_current(row.id)  # A's late publish: the pointer names B, which is there already
    assert get_storage().get(row.filename) == bytes([2]) * 64
    assert served_bytes(row.filename)[0] == bytes([2]) * 64
    assert versions.get_version(b.id).is_current


def test_concurrent_restores_and_generations_end_with_stable_equal_to_current(tiny):
    """Threads restoring old versions while jobs generate new ones: whatever finishes last, the bytes match."""
    generate()
    generate()
    row = rows()[0]
    olds = [v.id for v in versions.list_versions("hero", str(row.id))]
    errors: list[BaseException] = []

    def restore_loop():
        try:
            for version_id in olds * 3:
                versions.restore_version(version_id)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=restore_loop) for _ in range(2)]
    for thread in threads:
        thread.start()
    generate()
    for thread in threads:
        thread.join(60)
    assert not errors
    for row in rows():
        assert row.published_version_id == row.current_version_id
        assert get_storage().get(row.filename) == current_bytes(row)


def test_stable_keys_revalidate_and_versioned_keys_are_immutable_in_storage_too(tiny):
    generate()
    row = rows()[0]
    with session_scope() as s:
        version_key = s.get(ImageVersion, row.current_version_id).storage_key
    served, cache_control = served_bytes(version_key)
    storage = get_storage()
    assert served == current_bytes(row)
    assert cache_control == (IMMUTABLE if isinstance(storage, LocalStorage) else REDIRECT_MAX_AGE)
    if isinstance(storage, S3Storage):  # what S3 itself (or a CDN in front of it) answers
        head = lambda key: storage.client.head_object(Bucket=storage.bucket, Key=storage._object_key(key))  # noqa: E731
        assert head(row.filename)["CacheControl"] == REVALIDATE
        assert head(version_key)["CacheControl"] == IMMUTABLE


def test_a_temp_file_is_never_served(tiny):
    generate()
    row = rows()[0]
    folder = row.filename.rsplit("/", 1)[0]
    get_storage().put(f"{folder}/.tmp-abc123", b"half")
    from services.storage import StorageKeyNotFound

    with pytest.raises(StorageKeyNotFound):
        asset_response(f"{folder}/.tmp-abc123", Headers())


def test_publish_on_postgresql_under_concurrent_moves(postgres_url, monkeypatch, data_dir):
    """The row lock on PostgreSQL: eight threads each add a version and publish; the last pointer wins."""
    from services.config import get_settings
    from services.db import migrate
    from services.demo import load_demo

    monkeypatch.setenv("RESHOOT_DATABASE_URL", postgres_url)
    get_settings.cache_clear()
    migrate()
    load_demo(generate_images=False)
    with session_scope() as s:
        row = s.exec(select(ExportPlanRow).where(ExportPlanRow.filename == "fcc/lifestyle/7/OL-1/desktop.png")).one()
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def one(n: int) -> None:
        try:
            start.wait()
            versions.save_new_versions(
                [
                    versions.NewImage(
                        "hero", str(row.id), row.filename, bytes([n]) * 32, 8, 8, "p", n, "fake", thumbnail=b"t"
                    )
                ],
                lambda s, vs: versions.set_current(s, vs[0]),
            )
            time.sleep(0.01 * (8 - n))  # earlier movers publish later
            versions.publish_current(row.id)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert len(versions.list_versions("hero", str(row.id))) == 8
    with session_scope() as s:
        row = s.get(ExportPlanRow, row.id)
        current = s.get(ImageVersion, row.current_version_id)
    assert row.published_version_id == row.current_version_id
    assert get_storage().get(row.filename) == get_storage().get(current.storage_key)


# A `python -m services worker` that dies by SIGKILL the moment a pointer has moved and its publish is due.
KILLED_WORKER = """
import os, signal, sys
from services import lifestyle
lifestyle.publish_current_many = lambda row_ids, **_: os.kill(os.getpid(), signal.SIGKILL)
from services.cli import main
sys.exit(main(["worker"]))
"""


def test_a_worker_killed_at_publish_on_postgresql_and_redis_is_repaired_by_the_next_worker(
    postgres_url, monkeypatch, data_dir
):
    """The scale-out set-up: the kill lands in a worker process; the next worker's start hook repairs it."""
    import redis

    from services.config import get_settings
    from services.db import migrate
    from services.demo import load_demo
    from tests.test_redis_queue import REDIS

    queue = f"reshoot-test-{os.getpid()}-{time.monotonic_ns()}"
    monkeypatch.setenv("RESHOOT_DATABASE_URL", postgres_url)
    monkeypatch.setenv("RESHOOT_QUEUE_URL", f"{REDIS}?queue={queue}")
    get_settings.cache_clear()
    migrate()
    load_demo(generate_images=False)
    with session_scope() as s:
        row = s.exec(select(ExportPlanRow).where(ExportPlanRow.filename == "fcc/lifestyle/7/OL-1/desktop.png")).one()
    versions.save_new_versions(
        [versions.NewImage("hero", str(row.id), row.filename, b"v1" * 40, 8, 8, "p", 1, "fake", thumbnail=b"t")],
        lambda s, vs: versions.set_current(s, vs[0]),
    )
    versions.publish_current(row.id)
    try:
        killed = subprocess.Popen(
            [sys.executable, "-c", KILLED_WORKER],
            cwd=PROJECT_ROOT,
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        lifestyle.start_heroes_job(
            work_item_id="7", options=lifestyle.GenerateHeroesOptions(shot_ids=["OL-1"], overwrite=True)
        )
        assert killed.wait(120) == -9, killed.stderr.read().decode()[-2000:]
        stale = versions.stale_stable_copies()
        assert row.id in stale
        assert get_storage().get(row.filename) == b"v1" * 40
        assert served_bytes(row.filename)[0] != b"v1" * 40  # /assets already serves the new current version

        worker = subprocess.Popen(
            [sys.executable, "-m", "services", "worker"],
            cwd=PROJECT_ROOT,
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert wait_until(lambda: versions.stale_stable_copies() == [], timeout=60)
        finally:
            worker.terminate()
            worker.wait(15)
        for plan_row in rows_on_shot("7", "OL-1"):
            assert get_storage().get(plan_row.filename) == current_bytes(plan_row)
    finally:
        client = redis.Redis.from_url(REDIS)
        for key in client.scan_iter(f"*{queue}*"):
            client.delete(key)
        client.close()


def rows_on_shot(work_item_id: str, shot_id: str) -> list[ExportPlanRow]:
    with session_scope() as s:
        query = select(ExportPlanRow).join(Shot).where(Shot.work_item_id == work_item_id, Shot.shot_id == shot_id)
        return list(s.exec(query.order_by(ExportPlanRow.id)))


def test_a_renamed_stable_filename_is_served_at_once_and_published_by_the_next_reconcile(tiny):
    from services.importer import import_data

    generate()
    renamed = "fcc/lifestyle/t1/S-1/hero-desktop.png"
    plan = [
        {
            "shot_id": f"S-{n}",
            "sku": f"SKU-{n}",
            "size_label": label,
            "width": w,
            "height": h,
            "filename": renamed if (n, label) == (1, "Desktop") else f"fcc/lifestyle/t1/S-{n}/{name}",
        }
        for n in (1, 2)
        for label, w, h, name in SIZES
    ]
    shots = [{"shot_id": f"S-{n}", "sku": f"SKU-{n}", "prompt": f"tiny scene {n}"} for n in (1, 2)]
    import_data(
        {
            "workItems": [
                {
                    "id": "t1",
                    "title": "Tiny",
                    "status": "open",
                    "lifestylePack": {"version": "v2", "shots": shots, "exportPlan": plan},
                }
            ]
        }
    )
    row = rows()[0]
    assert row.filename == renamed and not get_storage().exists(renamed)
    assert served_bytes(renamed)[0] == current_bytes(row)  # /assets resolves the new name already
    assert versions.reconcile_stable_copies() == [row.id]
    assert get_storage().get(renamed) == current_bytes(row)


def test_a_version_whose_file_is_gone_is_one_log_line_a_round_not_a_traceback(db, caplog):
    """The sweeper retries such a row every round: a traceback each time filled the log (and on Python 3.11
    formatting one calls ast.parse, which races with Streamlit compiling a page in another thread)."""
    work_item("wi", 1)
    attach_versions()  # versions whose files were never stored
    with session_scope() as session:
        session.exec(text("UPDATE exportplanrow SET published_version_id = NULL"))
    with caplog.at_level(logging.WARNING, logger="reshoot.versions"):
        assert versions.reconcile_stable_copies() == []
    said = [r for r in caplog.records if "stable copy" in r.getMessage()]
    assert len(said) == 3  # Desktop, Tablet, Mobile
    assert all("No stored file at fcc/lifestyle/wi/S-1/" in r.getMessage() and not r.exc_info for r in said)
