"""Import: the JSON and CSV formats, idempotency, the prompt rule, and bad files that import nothing."""

from __future__ import annotations

import copy
import io
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import SQLModel, select

from services.db import get_engine, session_scope
from services.errors import ReshootError
from services.importer import import_data, import_export_plan_csv, import_file
from services.models import CastMember, ExportPlanRow, LifestylePack, Project, Section, Sentence, Shot, WorkItem
from services.storage import get_storage

IMPORTED_TABLES = ("workitem", "lifestylepack", "shot", "exportplanrow", "project", "castmember", "section", "sentence")


def _png(color=(200, 120, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), color).save(out, format="PNG")
    return out.getvalue()


def _rows(work_item: str, shot_id: str, sku: str, prompt: str | None = None) -> list[dict]:
    rows = []
    for label, width, height in (("Desktop", 1920, 800), ("Tablet", 1536, 768), ("Mobile", 750, 1000)):
        row = {
            "shot_id": shot_id,
            "sku": sku,
            "size_label": label,
            "width": width,
            "height": height,
            "filename": f"fcc/lifestyle/{work_item}/{shot_id}/{label.lower()}.png",
        }
        if prompt:
            row["prompt"] = prompt
        rows.append(row)
    return rows


def _document() -> dict:
    return {
        "workItems": [
            {
                "id": "7",
                "title": "Patio",
                "status": "open",
                "lifestylePack": {
                    "version": "v2",
                    "exportPlan": _rows("7", "OL-1", "SKU-1", "teak sofa on a terrace")
                    + _rows("7", "OL-2", "SKU-2", "pool loungers"),
                },
            },
            {
                "id": "8",
                "title": "Kitchen",
                "status": "in_review",
                "lifestylePack": {
                    "shots": [
                        {
                            "shot_id": "KT-1",
                            "sku": "SKU-3",
                            "prompt": "cast iron pot",
                            "locked": True,
                            "focal": [0.3, 0.6],
                        }
                    ],
                    "exportPlan": _rows("8", "KT-1", "SKU-3"),
                },
            },
            {"id": "9", "title": "No pack yet", "status": "open"},
        ],
        "projects": [
            {
                "id": "story",
                "title": "A story",
                "cast": [
                    {"name": "Ana", "referenceImages": ["refs/ana.png"], "styleLora": "warm-doc"},
                    {"name": "Marco", "referenceImages": []},
                ],
                "sections": [
                    {
                        "title": "One",
                        "sentences": [{"text": "First.", "imagePrompt": "a farm at dawn"}, {"text": "Second."}],
                    },
                    {"title": "Two", "sentences": [{"id": "sent_x1", "text": "Third.", "imagePrompt": "a roastery"}]},
                ],
            }
        ],
    }


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "ana.png").write_bytes(_png())
    return tmp_path


def _write(folder: Path, document: dict, name: str = "import.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(document))
    return path


def _snapshot() -> dict[str, list[tuple]]:
    """Every row of every imported table, timestamps included."""
    tables = SQLModel.metadata.tables
    with get_engine().connect() as conn:
        return {
            name: sorted(map(tuple, conn.execute(tables[name].select()).all()), key=repr) for name in IMPORTED_TABLES
        }


def _nothing_imported() -> bool:
    return all(not rows for rows in _snapshot().values())


def test_good_file_imports_everything(db, folder):
    summary = import_file(_write(folder, _document()))
    assert summary.ok and summary.changed
    assert summary.model_dump(mode="json")["created"] == {
        "workItems": 3,
        "lifestylePacks": 2,
        "shots": 3,
        "exportPlanRows": 9,
        "projects": 1,
        "castMembers": 2,
        "sections": 2,
        "sentences": 3,
    }
    with session_scope() as s:
        shots = {x.shot_id: x for x in s.exec(select(Shot)).all()}
        assert shots["OL-1"].prompt == "teak sofa on a terrace" and shots["OL-1"].work_item_id == "7"
        assert (shots["KT-1"].locked, shots["KT-1"].focal_x, shots["KT-1"].focal_y) == (True, 0.3, 0.6)
        rows = s.exec(select(ExportPlanRow).where(ExportPlanRow.shot_pk == shots["OL-2"].id)).all()
        assert sorted((r.size_label, r.width, r.height, r.filename) for r in rows) == [
            ("Desktop", 1920, 800, "fcc/lifestyle/7/OL-2/desktop.png"),
            ("Mobile", 750, 1000, "fcc/lifestyle/7/OL-2/mobile.png"),
            ("Tablet", 1536, 768, "fcc/lifestyle/7/OL-2/tablet.png"),
        ]
        assert s.exec(select(LifestylePack).where(LifestylePack.work_item_id == "9")).first() is None
        ana = s.exec(select(CastMember).where(CastMember.name == "Ana")).one()
        sentences = s.exec(select(Sentence).order_by(Sentence.section_id, Sentence.position)).all()
    assert ana.style_lora == "warm-doc"
    [key] = ana.reference_images
    assert key.startswith("fcc/storyboard_refs/story/") and key.endswith(".png")
    assert Image.open(io.BytesIO(get_storage().get(key))).size == (32, 24)
    by_text = {t.text: t for t in sentences}
    assert by_text["Third."].id == "sent_x1"
    assert by_text["First."].id.startswith("sent_") and by_text["First."].image_prompt == "a farm at dawn"
    assert by_text["Second."].image_prompt is None and by_text["Second."].project_id == "story"


def test_reimporting_the_same_file_changes_nothing(db, folder, monkeypatch):
    path = _write(folder, _document())
    import_file(path)
    before = _snapshot()
    media = get_storage().list()
    monkeypatch.setattr(get_storage(), "put", lambda *a, **k: pytest.fail("a stored image was written again"))
    summary = import_file(path)
    assert not summary.changed
    assert not any(summary.created.model_dump().values()) and not any(summary.updated.model_dump().values())
    assert summary.unchanged.sentences == 3
    assert _snapshot() == before
    assert get_storage().list() == media


def test_sentence_ids_are_stable_without_explicit_ids(db, folder):
    import_file(_write(folder, _document()))
    with session_scope() as s:
        first = sorted(s.exec(select(Sentence.id)).all())
    get_engine().dispose()
    shutil.rmtree(get_storage().root)
    with session_scope() as s:  # a fresh database gets the same ids
        for model in (Sentence, Section, CastMember, Project):
            for row in s.exec(select(model)).all():
                s.delete(row)
    import_file(_write(folder, _document()))
    with session_scope() as s:
        assert sorted(s.exec(select(Sentence.id)).all()) == first


def test_changed_fields_are_updated_and_counted(db, folder):
    import_file(_write(folder, _document()))
    document = _document()
    document["workItems"][0]["title"] = "Patio, renamed"
    document["workItems"][0]["lifestylePack"]["exportPlan"][0]["width"] = 2048
    summary = import_file(_write(folder, document))
    assert summary.updated.work_items == 1 and summary.updated.export_plan_rows == 1
    assert summary.unchanged.work_items == 2 and not any(summary.created.model_dump().values())
    with session_scope() as s:
        item = s.get(WorkItem, "7")
        assert item.title == "Patio, renamed" and item.updated_at > item.created_at
        assert (
            s.exec(select(ExportPlanRow).where(ExportPlanRow.filename == "fcc/lifestyle/7/OL-1/desktop.png"))
            .one()
            .width
            == 2048
        )


def test_reimport_keeps_a_reviewers_prompt_and_fills_missing_ones(db, folder):
    import_file(_write(folder, _document()))
    with session_scope() as s:
        edited = s.get(Sentence, "sent_x1")
        edited.image_prompt = "a reviewer's better prompt"
        edited.is_image_dirty = False
        s.add(edited)
        second = s.exec(select(Sentence).where(Sentence.text == "Second.")).one()
    document = _document()
    document["projects"][0]["sections"][0]["sentences"][1]["imagePrompt"] = "now with a prompt"
    summary = import_file(_write(folder, document))
    assert summary.kept_image_prompts == ["sent_x1"]
    assert summary.updated.sentences == 1
    with session_scope() as s:
        assert s.get(Sentence, "sent_x1").image_prompt == "a reviewer's better prompt"
        filled = s.get(Sentence, second.id)
        assert filled.image_prompt == "now with a prompt" and filled.is_image_dirty and filled.is_video_dirty


def test_import_never_deletes(db, folder):
    import_file(_write(folder, _document()))
    document = _document()
    document["workItems"] = document["workItems"][:1]
    document["workItems"][0]["lifestylePack"]["exportPlan"] = _rows("7", "OL-1", "SKU-1")
    import_file(_write(folder, document))
    with session_scope() as s:
        assert len(s.exec(select(WorkItem)).all()) == 3
        assert len(s.exec(select(Shot).where(Shot.work_item_id == "7")).all()) == 2
        assert s.exec(select(Shot).where(Shot.shot_id == "OL-1")).one().prompt == "teak sofa on a terrace"


def _set(path: str, value):
    """A change to the good document: set the value at a dotted path (`workItems.0.title`); `...` deletes it."""

    def change(document):
        *parents, last = path.split(".")
        node = document
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key = int(last) if isinstance(node, list) else last
        if value is ...:
            del node[key]
        else:
            node[key] = value

    return change


PLAN = "workItems.0.lifestylePack.exportPlan"
BAD_FILES = {
    "missing field": (_set("workItems.0.title", ...), "workItems[0].title: is required"),
    "wrong type": (
        _set(f"{PLAN}.3.width", "1920"),
        "workItems[0].lifestylePack.exportPlan[3].width: must be a whole number",
    ),
    "zero size": (_set(f"{PLAN}.1.height", 0), "exportPlan[1].height: must be a whole number from 1"),
    "unknown field": (
        _set("workItems.1.lifestylePack.exportplan", []),
        "workItems[1].lifestylePack.exportplan: unknown field",
    ),
    "id with a slash": (_set("workItems.0.id", "7/8"), "workItems[0].id: must be 1-64 letters"),
    "shot id dot-dot": (_set(f"{PLAN}.0.shot_id", ".."), "exportPlan[0].shot_id: must be 1-64 letters"),
    "filename escapes": (
        _set(f"{PLAN}.0.filename", "../../etc/x.png"),
        "exportPlan[0].filename: is not a safe storage key",
    ),
    "absolute filename": (
        _set(f"{PLAN}.0.filename", "/tmp/x.png"),
        "exportPlan[0].filename: is not a safe storage key",
    ),
    "not an image name": (_set(f"{PLAN}.0.filename", "fcc/lifestyle/7/x.txt"), "exportPlan[0].filename: must end with"),
    "duplicate filename": (
        _set(f"{PLAN}.4.filename", "fcc/lifestyle/7/OL-1/desktop.png"),
        "exportPlan[4].filename: 'fcc/lifestyle/7/OL-1/desktop.png' is already used at workItems[0].lifestylePack.exportPlan[0].filename",
    ),
    "duplicate size": (
        _set(f"{PLAN}.1.size_label", "Desktop"),
        "exportPlan[1].size_label: shot OL-1 already has a Desktop row",
    ),
    "sku differs in a shot": (
        _set(f"{PLAN}.2.sku", "OTHER"),
        "exportPlan[2].sku: is 'OTHER' but shot OL-1 has sku 'SKU-1'",
    ),
    "prompt differs in a shot": (_set(f"{PLAN}.2.prompt", "another"), "exportPlan[2].prompt: differs from the prompt"),
    "pack version": (
        _set("workItems.0.lifestylePack.version", "v1"),
        "workItems[0].lifestylePack.version: must be one of v2",
    ),
    "focal out of range": (_set("workItems.1.lifestylePack.shots.0.focal", [0.5, 2]), "shots[0].focal: must be [x, y]"),
    "duplicate work item": (_set("workItems.1.id", "7"), "workItems[1].id: '7' is already used at workItems[0].id"),
    "duplicate sentence id": (
        _set("projects.0.sections.0.sentences.0.id", "sent_x1"),
        "sentences[0].id: 'sent_x1' is already used",
    ),
    "duplicate cast name": (
        _set("projects.0.cast.1.name", "Ana"),
        "projects[0].cast[1].name: duplicate cast member 'Ana'",
    ),
    "missing image": (
        _set("projects.0.cast.0.referenceImages", ["refs/nope.png"]),
        "projects[0].cast[0].referenceImages[0]: file not found: refs/nope.png",
    ),
    "image outside the folder": (
        _set("projects.0.cast.0.referenceImages", ["../ana.png"]),
        "referenceImages[0]: '../ana.png' must stay inside",
    ),
    "absolute image path": (
        _set("projects.0.cast.0.referenceImages", ["/etc/hostname"]),
        "referenceImages[0]: '/etc/hostname' must stay inside",
    ),
    "not an image": (
        _set("projects.0.cast.0.referenceImages", ["notes.txt"]),
        "referenceImages[0]: notes.txt: notes.txt is not an image",
    ),
    "sentences not a list": (
        _set("projects.0.sections.1.sentences", "x"),
        "projects[0].sections[1].sentences: must be a list",
    ),
    "empty text": (
        _set("projects.0.sections.0.sentences.1.text", " "),
        "sections[0].sentences[1].text: must not be empty",
    ),
}


@pytest.mark.parametrize("change, message", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_file_names_the_field_and_imports_nothing(db, folder, change, message):
    (folder / "notes.txt").write_text("not an image")
    document = _document()
    change(document)
    with pytest.raises(ReshootError) as info:
        import_file(_write(folder, document))
    error = info.value
    assert error.code == "IMPORT_INVALID" and error.status == 400
    assert any(message in detail for detail in error.details), error.details
    assert error.to_json()["details"] == error.details
    assert _nothing_imported()
    assert get_storage().list() == []


def test_every_problem_is_reported_at_once(db, folder):
    document = _document()
    _set("workItems.0.title", ...)(document)
    _set(f"{PLAN}.3.width", -1)(document)
    with pytest.raises(ReshootError) as info:
        import_file(_write(folder, document))
    assert len(info.value.details) == 2
    assert "(and 1 more)" in info.value.message


def test_a_broken_row_reports_only_its_own_problem(db, folder):
    document = _document()
    _set(f"{PLAN}.1.sku", ...)(document)
    with pytest.raises(ReshootError) as info:
        import_file(_write(folder, document))
    assert info.value.details == ["workItems[0].lifestylePack.exportPlan[1].sku: is required"]


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"workItems": [\n  {"id": "7",}\n]}', "line 2, column 14: invalid JSON"),
        ("[1, 2]", "(file): must be an object"),
        ('{"other": 1}', "(file): has neither workItems nor projects"),
        ('{"workItems": {"id": "7"}}', "workItems: must be a list"),
    ],
)
def test_malformed_json(db, folder, text, message):
    path = folder / "bad.json"
    path.write_text(text)
    with pytest.raises(ReshootError) as info:
        import_file(path)
    assert any(message in d for d in info.value.details), info.value.details


def test_conflicts_with_the_database_import_nothing(db, folder):
    import_file(_write(folder, _document()))
    before = _snapshot()
    plan = [{**row, "shot_id": "NEW-1"} for row in _rows("7", "OL-1", "SKU-9")]  # OL-1's files
    taken = {
        "workItems": [
            {"id": "50", "title": "New", "status": "open", "lifestylePack": {"exportPlan": plan}},
        ],
        "projects": [
            {
                "id": "other",
                "title": "Other",
                "sections": [{"title": "S", "sentences": [{"id": "sent_x1", "text": "Mine"}]}],
            }
        ],
    }
    with pytest.raises(ReshootError) as info:
        import_file(_write(folder, taken))
    details = "\n".join(info.value.details)
    assert (
        "workItems[0].lifestylePack.exportPlan[0].filename: already used by work item 7, shot OL-1, Desktop" in details
    )
    assert "projects[0].sections[0].sentences[0].id: sent_x1 already belongs to project story" in details
    assert _snapshot() == before


def test_reference_images_need_a_folder_when_imported_from_data(db):
    document = _document()
    with pytest.raises(ReshootError) as info:
        import_data(document)
    assert any("reference images need the JSON file on disk" in d for d in info.value.details)
    document["projects"][0]["cast"][0]["referenceImages"] = []
    assert import_data(document).created.cast_members == 2


# --- CSV ---------------------------------------------------------------------------------------------


CSV = """work_item_id,shot_id,sku,size_label,width,height,filename,prompt
9,NP-1,SKU-7,Desktop,1920,800,fcc/lifestyle/9/NP-1/desktop.png,a reading nook
9,NP-1,SKU-7,Tablet,1536,768,fcc/lifestyle/9/NP-1/tablet.png,
9,NP-1,SKU-7,Mobile,750,1000,fcc/lifestyle/9/NP-1/mobile.png,
"""


def test_csv_adds_an_export_plan_to_an_existing_work_item(db, folder):
    import_file(_write(folder, _document()))
    path = folder / "plan.csv"
    path.write_text(CSV)
    summary = import_file(path)
    assert summary.created.lifestyle_packs == 1 and summary.created.shots == 1
    assert summary.created.export_plan_rows == 3
    with session_scope() as s:
        shot = s.exec(select(Shot).where(Shot.work_item_id == "9")).one()
        assert (shot.shot_id, shot.sku, shot.prompt) == ("NP-1", "SKU-7", "a reading nook")
        assert s.get(WorkItem, "9").title == "No pack yet"
    assert not import_file(path).changed


def test_csv_without_the_work_item_column_takes_it_as_an_argument(db, folder):
    import_file(_write(folder, _document()))
    text = "\n".join(line.split(",", 1)[1] for line in CSV.strip().splitlines())
    summary = import_export_plan_csv(io.StringIO(text), work_item_id="9")
    assert summary.created.export_plan_rows == 3
    with pytest.raises(ReshootError) as info:
        import_export_plan_csv(io.StringIO(text))
    assert info.value.details == ["line 1, columns: no work_item_id column, and no work item was given"]


@pytest.mark.parametrize(
    "text, message",
    [
        (CSV.replace(",750,", ",wide,"), "line 4, width: must be a whole number"),
        (
            CSV.replace("9,NP-1,SKU-7,Tablet", "9,NP-1,SKU-8,Tablet"),
            "line 3, sku: is 'SKU-8' but shot NP-1 has sku 'SKU-7'",
        ),
        (CSV.replace("tablet.png", "../tablet.png"), "line 3, filename: is not a safe storage key"),
        (CSV.replace("Mobile", "Desktop"), "line 4, size_label: shot NP-1 already has a Desktop row"),
        (CSV.replace("9,", "404,"), "line 2, work_item_id: work item 404 does not exist"),
        (CSV.replace(",height,", ",tall,"), "line 1, columns: missing height"),
        (CSV.replace("tablet.png,", "tablet.png,,extra"), "Expected 8 fields in line 3, saw 9"),
        (CSV.replace(",prompt", ",notes"), "line 1, columns: unknown notes"),
        ("", "line 1: the CSV file is empty"),
        (CSV.splitlines()[0] + "\n", "line 2: the CSV file has no rows"),
        (
            CSV + "\n9,NP-2,SKU-1,Desktop,1920,800,fcc/lifestyle/9/NP-1/desktop.png,\n",
            "line 6, filename: 'fcc/lifestyle/9/NP-1/desktop.png' is already used at line 2, filename",
        ),
    ],
)
def test_bad_csv_names_the_line_and_imports_nothing(db, folder, text, message):
    import_file(_write(folder, _document()))
    before = _snapshot()
    path = folder / "plan.csv"
    path.write_text(text)
    with pytest.raises(ReshootError) as info:
        import_file(path)
    assert info.value.code == "IMPORT_INVALID"
    assert any(message in d for d in info.value.details), info.value.details
    assert _snapshot() == before


def test_csv_for_another_work_item_than_asked_is_rejected(db, folder):
    import_file(_write(folder, _document()))
    with pytest.raises(ReshootError) as info:
        import_export_plan_csv(io.StringIO(CSV), work_item_id="8")
    assert info.value.details[0] == "line 2, work_item_id: is '9' but this import is for work item '8'"


def test_demo_file_is_a_valid_import(db):
    from services.demo import DEMO_FILE

    document = json.loads(DEMO_FILE.read_text())
    summary = import_file(DEMO_FILE)
    assert summary.created.work_items == len(document["workItems"])
    assert copy.deepcopy(document) == json.loads(DEMO_FILE.read_text())


def test_problems_are_located_by_the_files_own_key_names(db, folder):
    document = _document()
    _set("workItems.1.lifestylePack.exportPlan.2.width", 20_000)(document)
    _set("workItems.0.lifestylePack.Version", "v2")(document)
    _set("projects.0.cast.0.styleLora", 3)(document)
    with pytest.raises(ReshootError) as info:
        import_file(_write(folder, document))
    assert info.value.details == [
        "workItems[0].lifestylePack.Version: unknown field (expected one of: exportPlan, version, shots)",
        "workItems[1].lifestylePack.exportPlan[2].width: must be a whole number from 1 to 10000",
        "projects[0].cast[0].styleLora: must be a string",
    ]


def test_csv_is_read_as_csv_quoted_cells_a_byte_order_mark_and_windows_line_ends(db, folder):
    import_file(_write(folder, _document()))
    lines = CSV.strip().splitlines()
    lines[1] = lines[1].replace("a reading nook", '"a reading nook, with ""quotes""\nover two lines"')
    lines[3] = lines[3].removesuffix(",")  # a short line: its last cell (the prompt) is empty
    path = folder / "plan.csv"
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode())
    summary = import_file(path)
    assert summary.created.export_plan_rows == 3
    with session_scope() as s:
        shot = s.exec(select(Shot).where(Shot.work_item_id == "9")).one()
    assert shot.prompt == 'a reading nook, with "quotes"\nover two lines'
    path.write_bytes(b"work_item_id,shot_id\n\xff\xfe\n")
    with pytest.raises(ReshootError) as info:
        import_file(path)
    assert info.value.details == ["CSV: not UTF-8 text (invalid start byte at byte 21)"]
