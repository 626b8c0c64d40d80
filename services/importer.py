"""Import work items (Lifestyle Pack v2 + export plan) and storyboard projects from JSON; export plans from CSV.

The formats are the pydantic models in services/import_format.py, documented in docs/import-format.md with the
update rules. A file is checked completely before anything is written, and written in one transaction: a bad file
imports nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import TypeAdapter, ValidationError
from sqlmodel import Session, col, select

from services import search_index
from services.audit import AuditAction, Target, record
from services.auth import requires
from services.db import session_scope
from services.enums import AuditTargetKind
from services.errors import ReshootError
from services.identity import Role
from services.images import ValidatedImage, validate_upload
from services.import_format import (
    CSV_COLUMNS,
    CSV_REQUIRED,
    ExportPlanCsvRow,
    ExportPlanRowImport,
    ImportDocument,
    ProjectImport,
    ShotImport,
    WorkItemImport,
    location,
    problems,
)
from services.models import (
    CastMember,
    ExportPlanRow,
    LifestylePack,
    Project,
    Section,
    Sentence,
    Shot,
    WorkItem,
    utcnow,
)
from services.read_models.imports import ImportSummary
from services.storage import get_storage

KINDS = ("workItems", "lifestylePacks", "shots", "exportPlanRows", "projects", "castMembers", "sections", "sentences")
MAX_REPORTED_ERRORS = 100
_CHUNK = 500  # keeps IN (...) lists under SQLite's variable limit

ANALYZE_AFTER_ROWS = 1_000  # a larger import refreshes PostgreSQL's statistics, merges SQLite's FTS5 (search_index)

_CSV_ROWS = TypeAdapter(list[ExportPlanCsvRow])

Where = Callable[[str], str]
"""Names a field of one object of the file: `workItems[1].lifestylePack` + `width`, or `line 5` + `width`."""


def _in_json(*path: int | str) -> Where:
    base = location(path)
    return lambda name: f"{base}.{name}" if base else name


def _on_line(line: int) -> Where:
    return lambda name: f"line {line}, {name}"


# --- What the file asks for, checked as a whole ----------------------------------------------------------


@dataclass
class _Row:
    where: Where
    row: ExportPlanRowImport


@dataclass
class _Shot:
    shot: ShotImport  # from `shots`, or made from its first export plan row
    rows: list[_Row] = field(default_factory=list)


@dataclass
class _WorkItem:
    where: Where
    id: str
    item: WorkItemImport | None  # None: a CSV import, the work item must already exist
    pack_version: str | None = None  # None: the file says nothing about a pack
    shots: list[_Shot] = field(default_factory=list)


@dataclass
class _Project:
    index: int
    project: ProjectImport  # section and sentence ids filled in
    cast_images: list[list[str]]  # each cast member's reference images as storage keys
    images: dict[str, ValidatedImage]  # by storage key


def _derived_id(prefix: str, *parts: object) -> str:
    """A stable id from natural keys, so re-importing the same file finds the same rows."""
    digest = hashlib.sha1("\x00".join(map(str, parts)).encode()).hexdigest()[:12]
    return f"{prefix}_{digest}"


def _known(value: str | None) -> str:
    assert value is not None, "ids are filled in by _plan_project"
    return value


def _merge_pack(errors: list[str], shots: list[tuple[Where, ShotImport]], rows: list[_Row]) -> list[_Shot]:
    """One list of shots: those listed under `shots`, then those only named by export plan rows."""
    by_id: dict[str, _Shot] = {}
    for where, shot in shots:
        if shot.shot_id in by_id:
            errors.append(f"{where('shot_id')}: duplicate shot {shot.shot_id}")
        by_id.setdefault(shot.shot_id, _Shot(shot.model_copy()))
    sizes: set[tuple[str, str]] = set()
    for placed in rows:
        row, where = placed.row, placed.where
        planned = by_id.setdefault(row.shot_id, _Shot(ShotImport(shot_id=row.shot_id, sku=row.sku)))
        shot = planned.shot
        if row.sku != shot.sku:
            errors.append(f"{where('sku')}: is {row.sku!r} but shot {row.shot_id} has sku {shot.sku!r}")
        if row.prompt and shot.prompt and row.prompt != shot.prompt:
            errors.append(f"{where('prompt')}: differs from the prompt already given for shot {row.shot_id}")
        shot.prompt = shot.prompt or row.prompt or None
        if (row.shot_id, row.size_label) in sizes:
            errors.append(f"{where('size_label')}: shot {row.shot_id} already has a {row.size_label} row")
        sizes.add((row.shot_id, row.size_label))
        planned.rows.append(placed)
    return list(by_id.values())


def _plan_work_item(errors: list[str], index: int, item: WorkItemImport) -> _WorkItem:
    planned = _WorkItem(_in_json("workItems", index), item.id, item)
    pack = item.lifestyle_pack
    if pack is not None:
        planned.pack_version = pack.version
        shots = [(_in_json("workItems", index, "lifestylePack", "shots", i), s) for i, s in enumerate(pack.shots)]
        rows = [
            _Row(_in_json("workItems", index, "lifestylePack", "exportPlan", i), r)
            for i, r in enumerate(pack.export_plan)
        ]
        planned.shots = _merge_pack(errors, shots, rows)
    return planned


def _plan_project(errors: list[str], index: int, project: ProjectImport, base_dir: Path | None) -> _Project:
    for si, section in enumerate(project.sections):
        section.id = section.id or _derived_id("sec", project.id, si)
        for ti, sentence in enumerate(section.sentences):
            sentence.id = sentence.id or _derived_id("sent", project.id, si, ti)
    planned = _Project(index, project, [], {})
    names: set[str] = set()
    for ci, member in enumerate(project.cast):
        if member.name in names:
            errors.append(f"{_in_json('projects', index, 'cast', ci)('name')}: duplicate cast member {member.name!r}")
        names.add(member.name)
        keys = []
        for j, rel in enumerate(member.reference_images):
            where = location(("projects", index, "cast", ci, "referenceImages", j))
            image = _read_image(errors, where, rel, base_dir, project.id)
            if image is not None:
                keys.append(image[0])
                planned.images[image[0]] = image[1]
        planned.cast_images.append(keys)
    return planned


def _read_image(
    errors: list[str], where: str, rel: str, base_dir: Path | None, project_id: str
) -> tuple[str, ValidatedImage] | None:
    """Read and check one cast reference image named relative to the JSON file's folder."""
    if base_dir is None:
        errors.append(f"{where}: reference images need the JSON file on disk (import it with import_file)")
        return None
    root = base_dir.resolve()
    path = (root / rel).resolve()
    if Path(rel).is_absolute() or "\\" in rel or not path.is_relative_to(root):
        errors.append(f"{where}: {rel!r} must stay inside the JSON file's folder")
        return None
    if not path.is_file():
        errors.append(f"{where}: file not found: {rel}")
        return None
    try:
        image = validate_upload(path.read_bytes(), filename=path.name)
    except ReshootError as e:
        errors.append(f"{where}: {rel}: {e.message}")
        return None
    return f"fcc/storyboard_refs/{project_id}/{image.sha256[:16]}.{image.ext}", image


def _check_duplicates(errors: list[str], work_items: list[_WorkItem], projects: list[_Project]) -> None:
    seen: dict[tuple[str, str], str] = {}

    def claim(kind: str, value: str, where: str) -> None:
        if (kind, value) in seen:
            errors.append(f"{where}: {value!r} is already used at {seen[kind, value]}")
        seen.setdefault((kind, value), where)

    for item in work_items:
        claim("work item", item.id, item.where("id"))
        for shot in item.shots:
            for placed in shot.rows:
                claim("filename", placed.row.filename, placed.where("filename"))
    for planned in projects:
        project = planned.project
        claim("project", project.id, _in_json("projects", planned.index)("id"))
        for si, section in enumerate(project.sections):
            claim("section", _known(section.id), _in_json("projects", planned.index, "sections", si)("id"))
            for ti, sentence in enumerate(section.sentences):
                where = _in_json("projects", planned.index, "sections", si, "sentences", ti)
                claim("sentence", _known(sentence.id), where("id"))


def _invalid(problems: list[str]) -> ReshootError:
    details = list(problems[:MAX_REPORTED_ERRORS])
    if len(problems) > MAX_REPORTED_ERRORS:
        details.append(f"... and {len(problems) - MAX_REPORTED_ERRORS} more problems")
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return ReshootError("IMPORT_INVALID", 400, details, f"Nothing was imported: {problems[0]}{more}")


def _raise_if(errors: list[str]) -> None:
    if errors:
        raise _invalid(errors)


# --- Writing -------------------------------------------------------------------------------------------


class _Tally:
    def __init__(self) -> None:
        self.counts = {outcome: dict.fromkeys(KINDS, 0) for outcome in ("created", "updated", "unchanged")}
        self.kept_prompts: list[str] = []

    def upsert(self, session: Session, kind: str, obj: Any, model: type, values: dict[str, Any]) -> tuple[Any, bool]:
        """Create `model(**values)` when `obj` is None, else set the values that differ; says if anything changed."""
        if obj is None:
            obj = model(**values)
            session.add(obj)
            self.counts["created"][kind] += 1
            return obj, True
        changed = {k: v for k, v in values.items() if getattr(obj, k) != v}
        for k, v in changed.items():
            setattr(obj, k, v)
        self.counts["updated" if changed else "unchanged"][kind] += 1
        return obj, bool(changed)

    def summary(self) -> ImportSummary:
        changed = any(self.counts["created"].values()) or any(self.counts["updated"].values())
        return ImportSummary.model_validate({"changed": changed, **self.counts, "keptImagePrompts": self.kept_prompts})


def _fetch(session: Session, column: Any, values: list[Any]) -> list[Any]:
    model, unique = column.class_, sorted(set(values))
    found: list[Any] = []
    for i in range(0, len(unique), _CHUNK):
        found.extend(session.exec(select(model).where(column.in_(unique[i : i + _CHUNK]))).all())
    return found


def _check_against_db(
    session: Session, errors: list[str], work_items: list[_WorkItem], projects: list[_Project]
) -> None:
    """Problems only the database can reveal: unknown work items (CSV), keys owned by someone else."""
    existing = {w.id for w in _fetch(session, WorkItem.id, [w.id for w in work_items])}
    for item in work_items:
        if item.item is None and item.id not in existing:
            errors.append(
                f"{item.where('work_item_id')}: work item {item.id} does not exist (import it from JSON first)"
            )
    targets = {
        placed.row.filename: (item.id, shot.shot.shot_id, placed.row.size_label, placed.where)
        for item in work_items
        for shot in item.shots
        for placed in shot.rows
    }
    names = sorted(targets)
    for i in range(0, len(names), _CHUNK):
        query = (
            select(ExportPlanRow.filename, ExportPlanRow.work_item_id, Shot.shot_id, ExportPlanRow.size_label)
            .join(Shot, col(Shot.id) == col(ExportPlanRow.shot_pk))
            .where(col(ExportPlanRow.filename).in_(names[i : i + _CHUNK]))
        )
        for filename, wi, shot_id, size in session.exec(query).all():
            if (wi, shot_id, size) != targets[filename][:3]:
                errors.append(
                    f"{targets[filename][3]('filename')}: already used by work item {wi}, shot {shot_id}, {size}"
                )
    sections, sentences = {}, {}
    for planned in projects:
        project = planned.project
        for si, section in enumerate(project.sections):
            sections[_known(section.id)] = (project.id, _in_json("projects", planned.index, "sections", si))
            for ti, sentence in enumerate(section.sentences):
                where = _in_json("projects", planned.index, "sections", si, "sentences", ti)
                sentences[_known(sentence.id)] = (project.id, where)
    for model, wanted in ((Section, sections), (Sentence, sentences)):
        for row in _fetch(session, model.id, list(wanted)):
            project_id, where = wanted[row.id]
            if row.project_id != project_id:
                errors.append(f"{where('id')}: {row.id} already belongs to project {row.project_id}")


def _write_work_items(session: Session, tally: _Tally, work_items: list[_WorkItem]) -> None:
    ids = [w.id for w in work_items]
    items = {w.id: w for w in _fetch(session, WorkItem.id, ids)}
    packs = {p.work_item_id: p for p in _fetch(session, LifestylePack.work_item_id, ids)}
    shots = {(s.work_item_id, s.shot_id): s for s in _fetch(session, Shot.work_item_id, ids)}
    rows = {(r.shot_pk, r.size_label): r for r in _fetch(session, ExportPlanRow.work_item_id, ids)}
    touched: dict[str, bool] = {}

    for w in work_items:
        values: dict[str, Any] = {"id": w.id}
        if w.item is not None:
            values |= {"title": w.item.title, "status": w.item.status}
        items[w.id], touched[w.id] = tally.upsert(session, "workItems", items.get(w.id), WorkItem, values)
    session.flush()
    with_pack = [w for w in work_items if w.pack_version]
    for w in with_pack:
        values = {"work_item_id": w.id, "version": w.pack_version}
        packs[w.id], changed = tally.upsert(session, "lifestylePacks", packs.get(w.id), LifestylePack, values)
        touched[w.id] |= changed
    session.flush()
    for w in with_pack:
        for position, planned in enumerate(w.shots):
            s = planned.shot
            values = {
                "pack_id": packs[w.id].id,
                "work_item_id": w.id,
                "shot_id": s.shot_id,
                "sku": s.sku,
                "position": position,
            }
            optional: dict[str, Any] = {"prompt": s.prompt, "locked": s.locked}
            if s.focal:
                optional |= {"focal_x": s.focal[0], "focal_y": s.focal[1]}
            values |= {k: v for k, v in optional.items() if v is not None}
            key = (w.id, s.shot_id)
            shots[key], changed = tally.upsert(session, "shots", shots.get(key), Shot, values)
            touched[w.id] |= changed
    session.flush()
    for w in with_pack:
        for planned in w.shots:
            shot = shots[w.id, planned.shot.shot_id]
            for position, r in enumerate(placed.row for placed in planned.rows):
                values = {
                    "shot_pk": shot.id,
                    "work_item_id": w.id,
                    "size_label": r.size_label,
                    "width": r.width,
                    "height": r.height,
                    "filename": r.filename,
                    "position": position,
                }
                key = (shot.id, r.size_label)
                if key in rows and rows[key].filename != r.filename:
                    values["published_version_id"] = None  # nothing at the new filename yet: the reconcile copies it
                rows[key], changed = tally.upsert(session, "exportPlanRows", rows.get(key), ExportPlanRow, values)
                touched[w.id] |= changed
    for w in work_items:
        if touched[w.id]:
            items[w.id].updated_at = utcnow()


def _write_projects(session: Session, tally: _Tally, planned: list[_Project]) -> None:
    storage = get_storage()
    images = {key: image for p in planned for key, image in p.images.items()}
    stored = storage.existing(images)  # keys are content hashes: an existing key holds these bytes
    for key, image in images.items():
        if key not in stored:
            storage.put(key, image.data, content_type=image.content_type)

    projects = [p.project for p in planned]
    ids = [p.id for p in projects]
    existing = {p.id: p for p in _fetch(session, Project.id, ids)}
    cast = {(c.project_id, c.name): c for c in _fetch(session, CastMember.project_id, ids)}
    section_ids = [_known(s.id) for p in projects for s in p.sections]
    sections = {s.id: s for s in _fetch(session, Section.id, section_ids)}
    sentence_ids = [_known(t.id) for p in projects for s in p.sections for t in s.sentences]
    sentences = {t.id: t for t in _fetch(session, Sentence.id, sentence_ids)}

    for p in projects:
        tally.upsert(session, "projects", existing.get(p.id), Project, {"id": p.id, "title": p.title})
    session.flush()
    for plan in planned:
        p = plan.project
        for position, (c, keys) in enumerate(zip(p.cast, plan.cast_images, strict=True)):
            values: dict[str, Any] = {
                "project_id": p.id,
                "name": c.name,
                "position": position,
                "reference_images": keys,
            }
            if "style_lora" in c.model_fields_set:  # left out: keep what is there; null: none
                values["style_lora"] = c.style_lora
            member = cast.get((p.id, c.name))
            if member is None:
                values["id"] = _derived_id("cast", p.id, c.name)
            tally.upsert(session, "castMembers", member, CastMember, values)
        for position, s in enumerate(p.sections):
            values = {"id": s.id, "project_id": p.id, "title": s.title, "position": position}
            tally.upsert(session, "sections", sections.get(_known(s.id)), Section, values)
    session.flush()
    for p in projects:
        for s in p.sections:
            for position, t in enumerate(s.sentences):
                sentence_id = _known(t.id)
                _write_sentence(
                    session,
                    tally,
                    sentences.get(sentence_id),
                    sentence_id=sentence_id,
                    text=t.text,
                    image_prompt=t.image_prompt or None,
                    project_id=p.id,
                    section_id=_known(s.id),
                    position=position,
                )


def _write_sentence(
    session: Session,
    tally: _Tally,
    row: Sentence | None,
    *,
    sentence_id: str,
    text: str,
    image_prompt: str | None,
    project_id: str,
    section_id: str,
    position: int,
) -> None:
    """Set a sentence from the file; an image prompt already in the database is kept (it may be a reviewer's edit)."""
    values: dict[str, Any] = {
        "id": sentence_id,
        "project_id": project_id,
        "section_id": section_id,
        "position": position,
        "text": text,
    }
    if image_prompt and (row is None or not row.image_prompt):
        values |= {"image_prompt": image_prompt, "is_image_dirty": True, "is_video_dirty": True}
    elif image_prompt and row is not None and row.image_prompt != image_prompt:
        tally.kept_prompts.append(sentence_id)
    row, changed = tally.upsert(session, "sentences", row, Sentence, values)
    if changed:
        row.updated_at = utcnow()


def _import(errors: list[str], work_items: list[_WorkItem], projects: list[_Project]) -> ImportSummary:
    _check_duplicates(errors, work_items, projects)
    _raise_if(errors)
    tally = _Tally()
    with session_scope() as session:
        _check_against_db(session, errors, work_items, projects)
        _raise_if(errors)
        _write_work_items(session, tally, work_items)
        _write_projects(session, tally, projects)
        summary = tally.summary()
        if summary.changed:
            _record_import(session, summary, work_items, projects)
    if sum(summary.created.model_dump().values()) >= ANALYZE_AFTER_ROWS:
        search_index.refresh_statistics()
    return summary


def _record_import(
    session: Session, summary: ImportSummary, work_items: list[_WorkItem], projects: list[_Project]
) -> None:
    single = work_items[0].id if len(work_items) == 1 and not projects else None
    counts = summary.model_dump(mode="json")
    changed = {k: {kind: n for kind, n in counts[k].items() if n} for k in ("created", "updated")}
    record(
        session,
        action=AuditAction.import_data,
        target=Target(AuditTargetKind.data_import, work_item_id=single),
        after={
            **changed,
            "workItemIds": [w.id for w in work_items][:100],
            "projectIds": [p.project.id for p in projects][:100],
        },
    )


# --- Entry points ----------------------------------------------------------------------------------------


@requires(Role.admin)
def import_data(data: object, *, base_dir: Path | None = None) -> ImportSummary:
    """Import a parsed JSON document; cast reference image paths are resolved against `base_dir`."""
    try:
        document = ImportDocument.model_validate(data)
    except ValidationError as e:
        raise _invalid(problems(e, ImportDocument)) from None
    errors: list[str] = []
    work_items = [_plan_work_item(errors, i, item) for i, item in enumerate(document.work_items)]
    folder = Path(base_dir) if base_dir else None
    projects = [_plan_project(errors, i, project, folder) for i, project in enumerate(document.projects)]
    return _import(errors, work_items, projects)


@requires(Role.admin)
def import_file(path: Path, *, work_item_id: str | None = None) -> ImportSummary:
    """Import a `.json` file, or an export-plan `.csv` (see `import_export_plan_csv`)."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return import_export_plan_csv(path, work_item_id=work_item_id)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _invalid([f"{path}: file not found"]) from None
    except UnicodeDecodeError as e:
        raise _invalid([f"{path.name}: not UTF-8 text ({e.reason} at byte {e.start})"]) from None
    except json.JSONDecodeError as e:
        raise _invalid([f"line {e.lineno}, column {e.colno}: invalid JSON ({e.msg})"]) from None
    return import_data(data, base_dir=path.parent)


def _csv_text(path_or_buffer: str | Path | IO[str] | IO[bytes]) -> str:
    """The CSV's text: a file path, or an open text or binary file."""
    try:
        raw = Path(path_or_buffer).read_bytes() if isinstance(path_or_buffer, (str, Path)) else path_or_buffer.read()
        return raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw.removeprefix("\ufeff")
    except FileNotFoundError:
        raise _invalid([f"{path_or_buffer}: file not found"]) from None
    except UnicodeDecodeError as e:
        raise _invalid([f"CSV: not UTF-8 text ({e.reason} at byte {e.start})"]) from None


@requires(Role.admin)
def import_export_plan_csv(
    path_or_buffer: str | Path | IO[str] | IO[bytes], *, work_item_id: str | None = None
) -> ImportSummary:
    """Import export plan rows (one per line) into existing work items' Lifestyle Packs."""
    reader = csv.reader(io.StringIO(_csv_text(path_or_buffer), newline=""))
    try:
        return _import_csv_lines(reader, work_item_id)
    except csv.Error as e:
        raise _invalid([f"CSV: line {reader.line_num}: {e}"]) from None


def _import_csv_lines(reader: Any, work_item_id: str | None) -> ImportSummary:
    header = next(reader, None)
    if not header:
        raise _invalid(["line 1: the CSV file is empty"])
    columns = [name.strip() for name in header]
    errors: list[str] = []
    missing = [c for c in CSV_REQUIRED if c not in columns]
    unknown = [c for c in columns if c not in CSV_COLUMNS]
    if missing:
        errors.append(f"line 1, columns: missing {', '.join(missing)}")
    if unknown:
        errors.append(f"line 1, columns: unknown {', '.join(unknown)} (expected {', '.join(CSV_COLUMNS)})")
    if "work_item_id" not in columns and not work_item_id:
        errors.append("line 1, columns: no work_item_id column, and no work item was given")
    _raise_if(errors)

    lines: list[int] = []
    item_ids: list[str] = []
    values: list[dict[str, str]] = []
    for cells in reader:
        line = reader.line_num
        if len(cells) > len(columns):
            raise _invalid([f"CSV: Expected {len(columns)} fields in line {line}, saw {len(cells)}"])
        fields = dict(zip(columns, cells + [""] * (len(columns) - len(cells)), strict=True))
        if not any(value.strip() for value in fields.values()):
            continue  # a blank line
        item_id = fields.pop("work_item_id", "").strip() or work_item_id
        if not item_id:
            errors.append(f"line {line}, work_item_id: is required")
            continue
        if work_item_id and item_id != work_item_id:
            errors.append(
                f"line {line}, work_item_id: is {item_id!r} but this import is for work item {work_item_id!r}"
            )
            continue
        fields["width"], fields["height"] = fields["width"].strip(), fields["height"].strip()
        if fields.get("prompt") == "":
            del fields["prompt"]  # an empty cell: no prompt on this row
        lines.append(line)
        item_ids.append(item_id)
        values.append(fields)
    try:
        rows = _CSV_ROWS.validate_python(values)
    except ValidationError as e:
        errors.extend(problems(e, ExportPlanCsvRow, where=lambda loc: f"line {lines[loc[0]]}, {location(loc[1:])}"))
        rows = []
    _raise_if(errors)
    if not rows:
        raise _invalid(["line 2: the CSV file has no rows"])
    by_item: dict[str, list[_Row]] = {}
    first_line: dict[str, int] = {}
    for line, item_id, row in zip(lines, item_ids, rows, strict=True):
        first_line.setdefault(item_id, line)
        by_item.setdefault(item_id, []).append(_Row(_on_line(line), row))
    items = [_WorkItem(_on_line(first_line[i]), i, None, "v2", _merge_pack(errors, [], by_item[i])) for i in first_line]
    return _import(errors, items, [])
