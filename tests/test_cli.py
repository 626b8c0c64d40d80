"""`python -m services`: init, demo, import, work-items, sentences; plus the demo loader behind `demo`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import event

from services.cli import main
from services.config import PROJECT_ROOT
from services.db import get_engine
from services.demo import DEMO_DIR, DEMO_FILE, ensure_demo_loaded, load_demo
from services.importer import import_data
from services.work_items import list_work_items

DEMO_ITEMS = [
    {"id": "7", "shotCount": 4},
    {"id": "12", "shotCount": 3},
    {"id": "15", "shotCount": 0},
    {"id": "21", "shotCount": 2},
]


def run(capsys, *argv: str) -> tuple[int, object]:
    code = main(list(argv))
    out = capsys.readouterr().out
    try:
        return code, json.loads(out)
    except json.JSONDecodeError:
        return code, out


def test_demo_twice_then_work_items_as_a_shell_would(data_dir):
    env = {**os.environ, "RESHOOT_DATA_DIR": str(data_dir)}

    def shell(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "services", *args],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert json.loads(shell("demo", "--no-images"))["changed"] is True
    assert json.loads(shell("demo", "--no-images"))["changed"] is False
    items = json.loads(shell("work-items", "--json"))
    assert [{k: i[k] for k in ("id", "shotCount")} for i in items] == DEMO_ITEMS
    assert all(set(i) == {"id", "title", "status", "shotCount"} and i["title"] and i["status"] for i in items)


def test_init_creates_the_schema(capsys, data_dir):
    assert run(capsys, "init") == (0, {"ok": True})
    assert (data_dir / "reshoot.db").exists()


def test_work_items_on_an_empty_database(capsys):
    assert run(capsys, "work-items", "--json") == (0, [])


def test_work_items_text_and_filters(capsys):
    run(capsys, "demo", "--no-images")
    code, out = run(capsys, "work-items")
    assert code == 0 and len(out.splitlines()) == 4 and "4 shots  Outdoor Living" in out
    code, items = run(capsys, "work-items", "--json", "--search", "kit-castiron")
    assert [i["id"] for i in items] == ["12"]
    code, items = run(capsys, "work-items", "--json", "--status", "open")
    assert [i["id"] for i in items] == ["12", "15"]


def test_import_bad_file_prints_the_error_and_exits_non_zero(capsys, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"workItems": [{"id": "7", "title": "T"}]}))
    code, body = run(capsys, "import", str(path))
    assert code == 1
    assert body == {"error": "IMPORT_INVALID", "details": ["workItems[0].status: is required"]}
    assert run(capsys, "work-items", "--json") == (0, [])


def test_import_csv_for_one_work_item(capsys, tmp_path):
    item = tmp_path / "item.json"
    item.write_text(json.dumps({"workItems": [{"id": "30", "title": "Rugs", "status": "open"}]}))
    assert run(capsys, "import", str(item))[0] == 0
    plan = tmp_path / "plan.csv"
    plan.write_text(
        "shot_id,sku,size_label,width,height,filename,prompt\n"
        "RG-1,RUG-200,Desktop,1920,800,fcc/lifestyle/30/RG-1/desktop.png,a wool rug\n"
    )
    code, summary = run(capsys, "import", str(plan), "--work-item", "30")
    assert code == 0 and summary["created"]["exportPlanRows"] == 1
    assert run(capsys, "work-items", "--json")[1] == [{"id": "30", "title": "Rugs", "status": "open", "shotCount": 1}]


def test_sentences(capsys):
    run(capsys, "demo", "--no-images")
    code, sentences = run(capsys, "sentences", "coffee-origins", "--json")
    assert code == 0 and len(sentences) == 12
    assert sentences[0]["id"] == "sent_001" and sentences[0]["projectId"] == "coffee-origins"
    assert sum(1 for s in sentences if not s["imagePrompt"]) == 3
    code, body = run(capsys, "sentences", "no-such-project")
    assert code == 1 and body["error"] == "PROJECT_NOT_FOUND"


# --- The demo set --------------------------------------------------------------------------------------


def test_demo_set_is_small_and_complete():
    size = sum(p.stat().st_size for p in DEMO_DIR.rglob("*") if p.is_file())
    assert size < 2 * 1024 * 1024
    demo = json.loads(DEMO_FILE.read_text())
    seven = next(i for i in demo["workItems"] if i["id"] == "7")
    plan = seven["lifestylePack"]["exportPlan"]
    assert {r["shot_id"] for r in plan} == {"OL-1", "OL-2", "OL-3", "OL-4"}
    assert len({r["sku"] for r in plan}) == 4
    assert {(r["size_label"], r["width"], r["height"]) for r in plan} == {
        ("Desktop", 1920, 800),
        ("Tablet", 1536, 768),
        ("Mobile", 750, 1000),
    }
    assert "fcc/lifestyle/7/OL-1/desktop.png" in {r["filename"] for r in plan}
    assert any("lifestylePack" not in i for i in demo["workItems"])
    [project] = demo["projects"]
    sentences = [t for s in project["sections"] for t in s["sentences"]]
    assert len(project["sections"]) >= 2 and len(sentences) >= 10
    assert any("imagePrompt" not in t for t in sentences)
    assert any(c.get("styleLora") for c in project["cast"])


def test_load_demo_is_idempotent(db):
    first = load_demo(generate_images=False)
    assert first.created.work_items == 4 and first.created.sentences == 12
    assert load_demo(generate_images=False).changed is False


def test_ensure_demo_loaded_only_fills_an_empty_database(db):
    assert ensure_demo_loaded(generate_images=False).created.projects == 1
    statements: list[str] = []
    listener = lambda conn, cursor, statement, *args: statements.append(statement)  # noqa: E731
    event.listen(get_engine(), "before_cursor_execute", listener)
    try:
        assert ensure_demo_loaded(generate_images=False) is None
    finally:
        event.remove(get_engine(), "before_cursor_execute", listener)
    assert len(statements) == 1


def test_ensure_demo_loaded_leaves_other_data_alone(db):
    import_data({"workItems": [{"id": "1", "title": "Mine", "status": "open"}]})
    assert ensure_demo_loaded(generate_images=False) is None
    assert [i.id for i in list_work_items().items] == ["1"]


def test_load_demo_makes_the_missing_images_once(db, fake_backend):
    from services.jobs import wait_for_job
    from services.storyboard import list_sentences

    started = load_demo()
    assert len(started.job_ids) == 3 + 9  # one job per work item with a pack, one per sentence with a prompt
    assert {wait_for_job(job_id, timeout=120).status for job_id in started.job_ids} == {"succeeded"}
    assert len(fake_backend.calls) == 9 + 9  # one backend call per shot, one per sentence
    counts = {i.id: i.image_count for i in list_work_items().items}
    assert counts == {"7": 12, "12": 9, "15": 0, "21": 6}
    sentences = list_sentences("coffee-origins")
    assert all(bool(s.image_file) == bool(s.image_prompt) for s in sentences)
    again = load_demo()
    assert again.job_ids == [] and not again.changed
    assert len(fake_backend.calls) == 18


def test_an_argument_the_database_cannot_store_is_a_plain_invalid_request(capsys):
    """argv bytes that are not UTF-8 reach Python as lone surrogates (PostgreSQL refuses them): a 400, not a crash."""
    run(capsys, "demo", "--no-images")
    code = main(["work-items", "--search", b"kit\xff".decode("utf-8", "surrogateescape")])
    captured = capsys.readouterr()
    assert code == 1 and json.loads(captured.out)["error"] == "INVALID_REQUEST"
    assert "search contains invalid Unicode" in captured.err


def test_workers_lists_the_live_consumers(capsys, db):
    from services.jobs import start_embedded_worker

    code, shown = run(capsys, "workers")
    assert code == 0 and shown == {"ok": True, "embeddedWorkers": True, "workers": []}
    worker_id = start_embedded_worker()
    code, shown = run(capsys, "workers")
    assert [(w["id"], w["embedded"], w["running"]) for w in shown["workers"]] == [(worker_id, True, [])]


def test_workers_expect_waits_for_a_worker_starting_and_fails_when_too_few_come(capsys, db, monkeypatch):
    """README's scale-out check runs right after starting the workers: `--expect N` waits until N are alive."""
    import threading

    from services import cli
    from services.jobs import start_embedded_worker

    monkeypatch.setattr(cli, "WORKERS_EXPECT_SECONDS", 1.0)
    with pytest.raises(SystemExit) as exited:
        run(capsys, "workers", "--expect", "1")
    assert exited.value.code == 1
    assert json.loads(capsys.readouterr().out) == {"ok": False, "embeddedWorkers": True, "workers": []}

    monkeypatch.setattr(cli, "WORKERS_EXPECT_SECONDS", 30.0)
    started = threading.Timer(0.5, start_embedded_worker)  # a worker that comes up while the check waits
    started.start()
    code, shown = run(capsys, "workers", "--expect", "1")
    started.join()
    assert code == 0 and shown["ok"] is True and len(shown["workers"]) == 1
