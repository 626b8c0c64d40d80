"""Import work items (Lifestyle Pack v2 + export plan) and storyboard projects from JSON; export plans from CSV.

The format and the update rules are documented in docs/import-format.md. A file is checked completely before
anything is written, and written in one transaction: a bad file imports nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlmodel import Session, select

from services import search_index
from services.audit import AuditAction, Target, record
from services.auth import requires
from services.db import session_scope
from services.enums import AuditTargetKind
from services.errors import ReshootError
from services.identity import Role
from services.images import validate_upload
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
from services.storage import get_storage, validate_key

KINDS = ("workItems", "lifestylePacks", "shots", "exportPlanRows", "projects", "castMembers", "sections", "sentences")
CSV_COLUMNS = ("work_item_id", "shot_id", "sku", "size_label", "width", "height", "filename", "prompt")
CSV_REQUIRED = ("shot_id", "sku", "size_label", "width", "height", "filename")
PACK_VERSIONS = ("v2",)
HERO_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
MAX_SIDE = 10_000
MAX_TEXT = 500
MAX_REPORTED_ERRORS = 100
_IDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")  # ids end up in storage keys
_CHUNK = 500  # keeps IN (...) lists under SQLite's variable limit

ANALYZE_AFTER_ROWS = 1_000  # a larger import refreshes PostgreSQL's planner statistics (see search_index)


# --- Locations and field readers -------------------------------------------------------------------


@dataclass(frozen=True)
class _At:
    """Where a value sits: a JSON path (`workItems[1].lifestylePack`) or a CSV line (`line 5`)."""

    path: str
    sep: str = "."

    def __call__(self, name: str) -> str:
        return f"{self.path}{self.sep}{name}" if self.path else name

    def item(self, name: str, index: int) -> _At:
        return _At(f"{self(name)}[{index}]")


class _Errors(list):
    def add(self, where: str, message: str) -> None:
        self.append(f"{where or '(file)'}: {message}")


class _Fields:
    """Reads typed fields from one object of the file, recording every problem in `errors`."""

    def __init__(self, errors: _Errors, at: _At, value: Any, *, required: tuple[str, ...], optional=()):
        self.errors, self.at = errors, at
        self.data: dict[str, Any] = value if isinstance(value, dict) else {}
        if not isinstance(value, dict):
            errors.add(at.path, "must be an object")
            return
        allowed = required + tuple(optional)
        for key in value:
            if key not in allowed:
                errors.add(at(key), f"unknown field (expected one of: {', '.join(allowed)})")
        for key in required:
            if key not in value:
                errors.add(at(key), "is required")

    def has(self, key: str) -> bool:
        return key in self.data

    def fail(self, key: str, message: str) -> None:
        self.errors.add(self.at(key), message)

    def text(self, key: str, *, max_len: int = MAX_TEXT, empty: bool = False, nullable: bool = False) -> str | None:
        if key not in self.data or (nullable and self.data[key] is None):
            return None
        value = self.data[key]
        if not isinstance(value, str):
            return self.fail(key, "must be a string")
        if not empty and not value.strip():
            return self.fail(key, "must not be empty")
        if len(value) > max_len:
            return self.fail(key, f"is longer than {max_len} characters")
        return value

    def ident(self, key: str) -> str | None:
        value = self.text(key, max_len=64)
        if value is not None and not _IDENT.match(value):
            return self.fail(key, "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        return value

    def integer(self, key: str, *, low: int = 1, high: int = MAX_SIDE) -> int | None:
        value = self.data.get(key)
        if key not in self.data:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return self.fail(key, f"must be a whole number from {low} to {high}")
        return value

    def boolean(self, key: str) -> bool | None:
        value = self.data.get(key)
        if key in self.data and not isinstance(value, bool):
            return self.fail(key, "must be true or false")
        return value

    def focal(self, key: str) -> tuple[float, float] | None:
        value = self.data.get(key)
        if key not in self.data:
            return None
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1 for v in value)
        ):
            return self.fail(key, "must be [x, y] with both numbers from 0 to 1")
        return float(value[0]), float(value[1])

    def items(self, key: str) -> list[Any]:
        value = self.data.get(key)
        if key not in self.data:
            return []
        if not isinstance(value, list):
            self.fail(key, "must be a list")
            return []
        return value


# --- Parsed file ---------------------------------------------------------------------------------------


@dataclass
class _Row:
    at: _At
    shot_id: str
    sku: str
    size_label: str
    width: int
    height: int
    filename: str
    prompt: str | None


@dataclass
class _Shot:
    shot_id: str
    sku: str
    prompt: str | None = None
    locked: bool | None = None
    focal: tuple[float, float] | None = None
    rows: list[_Row] = field(default_factory=list)


@dataclass
class _WorkItem:
    at: _At
    id: str
    title: str | None  # None: CSV import, the work item must already exist
    status: str | None
    pack_version: str | None = None  # None: the file says nothing about a pack
    shots: list[_Shot] = field(default_factory=list)


@dataclass
class _Image:
    key: str
    data: bytes
    content_type: str


@dataclass
class _Cast:
    name: str
    images: list[_Image]
    style_lora: str | None
    has_style_lora: bool


@dataclass
class _Sentence:
    at: _At
    id: str
    text: str
    image_prompt: str | None


@dataclass
class _Section:
    at: _At
    id: str
    title: str
    sentences: list[_Sentence]


@dataclass
class _Project:
    at: _At
    id: str
    title: str
    cast: list[_Cast]
    sections: list[_Section]


def _derived_id(prefix: str, *parts: object) -> str:
    """A stable id from natural keys, so re-importing the same file finds the same rows."""
    digest = hashlib.sha1("\x00".join(map(str, parts)).encode()).hexdigest()[:12]
    return f"{prefix}_{digest}"


def _parse_row(errors: _Errors, at: _At, value: Any) -> _Row | None:
    before = len(errors)
    f = _Fields(errors, at, value, required=CSV_REQUIRED, optional=("prompt",))
    shot_id, sku, size_label = f.ident("shot_id"), f.text("sku", max_len=128), f.text("size_label", max_len=32)
    width, height = f.integer("width"), f.integer("height")
    filename, prompt = f.text("filename", max_len=512), f.text("prompt", empty=True, max_len=4000, nullable=True)
    if filename is not None:
        try:
            validate_key(filename)
        except ReshootError as e:
            f.fail("filename", f"is not a safe storage key ({e.message})")
        else:
            if not filename.lower().endswith(HERO_EXTENSIONS):
                f.fail("filename", f"must end with one of {', '.join(HERO_EXTENSIONS)}")
    if len(errors) > before:
        return None
    return _Row(at, shot_id, sku, size_label, width, height, filename, prompt or None)


def _parse_shot(errors: _Errors, at: _At, value: Any) -> _Shot | None:
    before = len(errors)
    f = _Fields(errors, at, value, required=("shot_id", "sku"), optional=("prompt", "locked", "focal"))
    shot = _Shot(
        shot_id=f.ident("shot_id"),
        sku=f.text("sku", max_len=128),
        prompt=f.text("prompt", empty=True, max_len=4000, nullable=True),
        locked=f.boolean("locked"),
        focal=f.focal("focal"),
    )
    return shot if len(errors) == before else None


def _merge_pack(errors: _Errors, shots: list[tuple[_At, _Shot]], rows: list[_Row]) -> list[_Shot]:
    """One list of shots: those listed under `shots`, then those only named by export plan rows."""
    by_id: dict[str, _Shot] = {}
    for at, shot in shots:
        if shot.shot_id in by_id:
            errors.add(at("shot_id"), f"duplicate shot {shot.shot_id}")
        by_id.setdefault(shot.shot_id, shot)
    sizes: set[tuple[str, str]] = set()
    for row in rows:
        shot = by_id.setdefault(row.shot_id, _Shot(shot_id=row.shot_id, sku=row.sku))
        if row.sku != shot.sku:
            errors.add(row.at("sku"), f"is {row.sku!r} but shot {row.shot_id} has sku {shot.sku!r}")
        if row.prompt and shot.prompt and row.prompt != shot.prompt:
            errors.add(row.at("prompt"), f"differs from the prompt already given for shot {row.shot_id}")
        shot.prompt = shot.prompt or row.prompt
        if (row.shot_id, row.size_label) in sizes:
            errors.add(row.at("size_label"), f"shot {row.shot_id} already has a {row.size_label} row")
        sizes.add((row.shot_id, row.size_label))
        shot.rows.append(row)
    return list(by_id.values())


def _parse_work_item(errors: _Errors, at: _At, value: Any) -> _WorkItem | None:
    f = _Fields(errors, at, value, required=("id", "title", "status"), optional=("lifestylePack",))
    item = _WorkItem(at, f.ident("id"), f.text("title"), f.text("status", max_len=32))
    if f.has("lifestylePack"):
        pack_at = _At(at("lifestylePack"))
        p = _Fields(errors, pack_at, f.data["lifestylePack"], required=("exportPlan",), optional=("version", "shots"))
        item.pack_version = p.text("version", max_len=16) or "v2"
        if item.pack_version not in PACK_VERSIONS:
            p.fail("version", f"must be one of {', '.join(PACK_VERSIONS)}")
        shots = [
            (pack_at.item("shots", i), _parse_shot(errors, pack_at.item("shots", i), v))
            for i, v in enumerate(p.items("shots"))
        ]
        rows = [_parse_row(errors, pack_at.item("exportPlan", i), v) for i, v in enumerate(p.items("exportPlan"))]
        item.shots = _merge_pack(errors, [(a, s) for a, s in shots if s], [r for r in rows if r])
    return item


def _parse_project(errors: _Errors, at: _At, value: Any, base_dir: Path | None) -> _Project:
    f = _Fields(errors, at, value, required=("id", "title", "sections"), optional=("cast",))
    project = _Project(at, f.ident("id"), f.text("title"), [], [])
    names: set[str] = set()
    for i, member in enumerate(f.items("cast")):
        c_at = at.item("cast", i)
        c = _Fields(errors, c_at, member, required=("name", "referenceImages"), optional=("styleLora",))
        name = c.text("name")
        if name in names:
            c.fail("name", f"duplicate cast member {name!r}")
        names.add(name)
        images = [
            _read_image(errors, c_at.item("referenceImages", j), rel, base_dir, project.id)
            for j, rel in enumerate(c.items("referenceImages"))
        ]
        lora = c.text("styleLora", max_len=255, nullable=True)
        project.cast.append(_Cast(name, [im for im in images if im], lora, c.has("styleLora")))
    for si, sec in enumerate(f.items("sections")):
        s_at = at.item("sections", si)
        s = _Fields(errors, s_at, sec, required=("title", "sentences"), optional=("id",))
        section = _Section(s_at, s.ident("id") or _derived_id("sec", project.id, si), s.text("title"), [])
        for ti, sent in enumerate(s.items("sentences")):
            t_at = s_at.item("sentences", ti)
            t = _Fields(errors, t_at, sent, required=("text",), optional=("id", "imagePrompt"))
            sentence_id = t.ident("id") or _derived_id("sent", project.id, si, ti)
            prompt = t.text("imagePrompt", empty=True, max_len=4000, nullable=True)
            section.sentences.append(_Sentence(t_at, sentence_id, t.text("text", max_len=4000), prompt or None))
        project.sections.append(section)
    return project


def _read_image(errors: _Errors, at: _At, rel: Any, base_dir: Path | None, project_id: str | None) -> _Image | None:
    """Read and check one cast reference image named relative to the JSON file's folder."""
    if not isinstance(rel, str) or not rel.strip():
        return errors.add(at.path, "must be a file path relative to the JSON file")
    if base_dir is None:
        return errors.add(at.path, "reference images need the JSON file on disk (import it with import_file)")
    root = base_dir.resolve()
    path = (root / rel).resolve()
    if Path(rel).is_absolute() or "\\" in rel or not path.is_relative_to(root):
        return errors.add(at.path, f"{rel!r} must stay inside the JSON file's folder")
    if not path.is_file():
        return errors.add(at.path, f"file not found: {rel}")
    try:
        image = validate_upload(path.read_bytes(), filename=path.name)
    except ReshootError as e:
        return errors.add(at.path, f"{rel}: {e.message}")
    key = f"fcc/storyboard_refs/{project_id}/{image.sha256[:16]}.{image.ext}"
    return _Image(key, image.data, image.content_type)


def _check_duplicates(errors: _Errors, work_items: list[_WorkItem], projects: list[_Project]) -> None:
    seen: dict[tuple[str, str], str] = {}

    def claim(kind: str, value: str | None, where: str) -> None:
        if value is None:
            return
        if (kind, value) in seen:
            errors.add(where, f"{value!r} is already used at {seen[kind, value]}")
        seen.setdefault((kind, value), where)

    for item in work_items:
        claim("work item", item.id, item.at("id"))
        for shot in item.shots:
            for row in shot.rows:
                claim("filename", row.filename, row.at("filename"))
    for project in projects:
        claim("project", project.id, project.at("id"))
        for section in project.sections:
            claim("section", section.id, section.at("id"))
            for sentence in section.sentences:
                claim("sentence", sentence.id, sentence.at("id"))


def _invalid(problems: list[str]) -> ReshootError:
    details = list(problems[:MAX_REPORTED_ERRORS])
    if len(problems) > MAX_REPORTED_ERRORS:
        details.append(f"... and {len(problems) - MAX_REPORTED_ERRORS} more problems")
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return ReshootError("IMPORT_INVALID", 400, details, f"Nothing was imported: {problems[0]}{more}")


def _raise_if(errors: _Errors) -> None:
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

    def summary(self) -> dict[str, Any]:
        changed = any(self.counts["created"].values()) or any(self.counts["updated"].values())
        return {"ok": True, "changed": changed, **self.counts, "keptImagePrompts": self.kept_prompts}


def _fetch(session: Session, column: Any, values: list[Any]) -> list[Any]:
    model, unique, found = column.class_, sorted(set(values)), []
    for i in range(0, len(unique), _CHUNK):
        found.extend(session.exec(select(model).where(column.in_(unique[i : i + _CHUNK]))).all())
    return found


def _check_against_db(session: Session, errors: _Errors, work_items: list[_WorkItem], projects: list[_Project]) -> None:
    """Problems only the database can reveal: unknown work items (CSV), keys owned by someone else."""
    existing = {w.id for w in _fetch(session, WorkItem.id, [w.id for w in work_items])}
    for item in work_items:
        if item.title is None and item.id not in existing:
            errors.add(item.at("work_item_id"), f"work item {item.id} does not exist (import it from JSON first)")
    targets = {
        row.filename: (item.id, shot.shot_id, row.size_label, row.at)
        for item in work_items
        for shot in item.shots
        for row in shot.rows
    }
    names = sorted(targets)
    for i in range(0, len(names), _CHUNK):
        query = (
            select(ExportPlanRow.filename, ExportPlanRow.work_item_id, Shot.shot_id, ExportPlanRow.size_label)
            .join(Shot, Shot.id == ExportPlanRow.shot_pk)
            .where(ExportPlanRow.filename.in_(names[i : i + _CHUNK]))
        )
        for filename, wi, shot_id, size in session.exec(query).all():
            if (wi, shot_id, size) != targets[filename][:3]:
                errors.add(targets[filename][3]("filename"), f"already used by work item {wi}, shot {shot_id}, {size}")
    for model, wanted in (
        (Section, {s.id: (p.id, s.at) for p in projects for s in p.sections}),
        (Sentence, {t.id: (p.id, t.at) for p in projects for s in p.sections for t in s.sentences}),
    ):
        for row in _fetch(session, model.id, list(wanted)):
            project_id, at = wanted[row.id]
            if row.project_id != project_id:
                errors.add(at("id"), f"{row.id} already belongs to project {row.project_id}")


def _write_work_items(session: Session, tally: _Tally, work_items: list[_WorkItem]) -> None:
    ids = [w.id for w in work_items]
    items = {w.id: w for w in _fetch(session, WorkItem.id, ids)}
    packs = {p.work_item_id: p for p in _fetch(session, LifestylePack.work_item_id, ids)}
    shots = {(s.work_item_id, s.shot_id): s for s in _fetch(session, Shot.work_item_id, ids)}
    rows = {(r.shot_pk, r.size_label): r for r in _fetch(session, ExportPlanRow.work_item_id, ids)}
    touched: dict[str, bool] = {}

    for w in work_items:
        values = {"id": w.id, **{k: v for k, v in (("title", w.title), ("status", w.status)) if v is not None}}
        items[w.id], touched[w.id] = tally.upsert(session, "workItems", items.get(w.id), WorkItem, values)
    session.flush()
    with_pack = [w for w in work_items if w.pack_version]
    for w in with_pack:
        values = {"work_item_id": w.id, "version": w.pack_version}
        packs[w.id], changed = tally.upsert(session, "lifestylePacks", packs.get(w.id), LifestylePack, values)
        touched[w.id] |= changed
    session.flush()
    for w in with_pack:
        for position, s in enumerate(w.shots):
            values = {
                "pack_id": packs[w.id].id,
                "work_item_id": w.id,
                "shot_id": s.shot_id,
                "sku": s.sku,
                "position": position,
            }
            optional = {"prompt": s.prompt, "locked": s.locked}
            if s.focal:
                optional |= {"focal_x": s.focal[0], "focal_y": s.focal[1]}
            values |= {k: v for k, v in optional.items() if v is not None}
            key = (w.id, s.shot_id)
            shots[key], changed = tally.upsert(session, "shots", shots.get(key), Shot, values)
            touched[w.id] |= changed
    session.flush()
    for w in with_pack:
        for s in w.shots:
            shot = shots[w.id, s.shot_id]
            for position, r in enumerate(s.rows):
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
                    values["published_version_id"] = (
                        None  # nothing at the new filename yet: the next reconcile copies it
                    )
                rows[key], changed = tally.upsert(session, "exportPlanRows", rows.get(key), ExportPlanRow, values)
                touched[w.id] |= changed
    for w in work_items:
        if touched[w.id]:
            items[w.id].updated_at = utcnow()


def _write_projects(session: Session, tally: _Tally, projects: list[_Project]) -> None:
    storage = get_storage()
    for image in {im.key: im for p in projects for c in p.cast for im in c.images}.values():
        if not storage.exists(image.key):  # keys are content hashes: an existing key holds these bytes
            storage.put(image.key, image.data, content_type=image.content_type)

    ids = [p.id for p in projects]
    existing = {p.id: p for p in _fetch(session, Project.id, ids)}
    cast = {(c.project_id, c.name): c for c in _fetch(session, CastMember.project_id, ids)}
    sections = {s.id: s for s in _fetch(session, Section.id, [s.id for p in projects for s in p.sections])}
    sentence_ids = [t.id for p in projects for s in p.sections for t in s.sentences]
    sentences = {t.id: t for t in _fetch(session, Sentence.id, sentence_ids)}

    for p in projects:
        tally.upsert(session, "projects", existing.get(p.id), Project, {"id": p.id, "title": p.title})
    session.flush()
    for p in projects:
        for position, c in enumerate(p.cast):
            values = {
                "project_id": p.id,
                "name": c.name,
                "position": position,
                "reference_images": [im.key for im in c.images],
            }
            if c.has_style_lora:
                values["style_lora"] = c.style_lora
            member = cast.get((p.id, c.name))
            if member is None:
                values["id"] = _derived_id("cast", p.id, c.name)
            tally.upsert(session, "castMembers", member, CastMember, values)
        for position, s in enumerate(p.sections):
            values = {"id": s.id, "project_id": p.id, "title": s.title, "position": position}
            tally.upsert(session, "sections", sections.get(s.id), Section, values)
    session.flush()
    for p in projects:
        for s in p.sections:
            for position, t in enumerate(s.sentences):
                _write_sentence(session, tally, sentences.get(t.id), t, p.id, s.id, position)


def _write_sentence(
    session: Session, tally: _Tally, row: Sentence | None, t: _Sentence, project_id: str, section_id: str, position: int
) -> None:
    """Set a sentence from the file; an image prompt already in the database is kept (it may be a reviewer's edit)."""
    values: dict[str, Any] = {
        "id": t.id,
        "project_id": project_id,
        "section_id": section_id,
        "position": position,
        "text": t.text,
    }
    if t.image_prompt and (row is None or not row.image_prompt):
        values |= {"image_prompt": t.image_prompt, "is_image_dirty": True, "is_video_dirty": True}
    elif t.image_prompt and row.image_prompt != t.image_prompt:
        tally.kept_prompts.append(t.id)
    row, changed = tally.upsert(session, "sentences", row, Sentence, values)
    if changed:
        row.updated_at = utcnow()


def _import(errors: _Errors, work_items: list[_WorkItem], projects: list[_Project]) -> dict[str, Any]:
    _check_duplicates(errors, work_items, projects)
    _raise_if(errors)
    tally = _Tally()
    with session_scope() as session:
        _check_against_db(session, errors, work_items, projects)
        _raise_if(errors)
        _write_work_items(session, tally, work_items)
        _write_projects(session, tally, projects)
        summary = tally.summary()
        if summary["changed"]:
            _record_import(session, summary, work_items, projects)
    if sum(summary["created"].values()) >= ANALYZE_AFTER_ROWS:
        search_index.refresh_statistics()
    return summary


def _record_import(
    session: Session, summary: dict[str, Any], work_items: list[_WorkItem], projects: list[_Project]
) -> None:
    single = work_items[0].id if len(work_items) == 1 and not projects else None
    changed = {k: {kind: n for kind, n in summary[k].items() if n} for k in ("created", "updated")}
    record(
        session,
        action=AuditAction.import_data,
        target=Target(AuditTargetKind.data_import, work_item_id=single),
        after={
            **changed,
            "workItemIds": [w.id for w in work_items][:100],
            "projectIds": [p.id for p in projects][:100],
        },
    )


# --- Entry points ----------------------------------------------------------------------------------------


@requires(Role.admin)
def import_data(data: dict, *, base_dir: Path | None = None) -> dict[str, Any]:
    """Import a parsed JSON document; cast reference image paths are resolved against `base_dir`."""
    errors = _Errors()
    root = _Fields(errors, _At(""), data, required=(), optional=("workItems", "projects"))
    if isinstance(data, dict) and not (root.has("workItems") or root.has("projects")):
        errors.add("", "has neither workItems nor projects")
    work_items = [_parse_work_item(errors, _At(f"workItems[{i}]"), v) for i, v in enumerate(root.items("workItems"))]
    projects = [
        _parse_project(errors, _At(f"projects[{i}]"), v, Path(base_dir) if base_dir else None)
        for i, v in enumerate(root.items("projects"))
    ]
    return _import(errors, work_items, projects)


@requires(Role.admin)
def import_file(path: Path, *, work_item_id: str | None = None) -> dict[str, Any]:
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


def _read_csv(path_or_buffer: Any) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path_or_buffer, dtype=str, keep_default_na=False, skip_blank_lines=False)
    except FileNotFoundError:
        raise _invalid([f"{path_or_buffer}: file not found"]) from None
    except pd.errors.EmptyDataError:
        raise _invalid(["line 1: the CSV file is empty"]) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise _invalid([f"CSV: {e}".strip()]) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


@requires(Role.admin)
def import_export_plan_csv(path_or_buffer: Any, *, work_item_id: str | None = None) -> dict[str, Any]:
    """Import export plan rows (one per line) into existing work items' Lifestyle Packs."""
    frame = _read_csv(path_or_buffer)
    errors = _Errors()
    header = _At("line 1", ", ")
    missing = [c for c in CSV_REQUIRED if c not in frame.columns]
    unknown = [c for c in frame.columns if c not in CSV_COLUMNS]
    if missing:
        errors.add(header("columns"), f"missing {', '.join(missing)}")
    if unknown:
        errors.add(header("columns"), f"unknown {', '.join(unknown)} (expected {', '.join(CSV_COLUMNS)})")
    if "work_item_id" not in frame.columns and not work_item_id:
        errors.add(header("columns"), "no work_item_id column, and no work item was given")
    _raise_if(errors)

    rows: dict[str, list[_Row]] = {}
    first_line: dict[str, _At] = {}
    for index, line_fields in enumerate(frame.to_dict("records")):
        at = _At(f"line {index + 2}", ", ")
        if not any(v.strip() for v in line_fields.values()):
            continue  # a blank line
        item_id = line_fields.pop("work_item_id", "").strip() or work_item_id
        if not item_id:
            errors.add(at("work_item_id"), "is required")
            continue
        if work_item_id and item_id != work_item_id:
            errors.add(at("work_item_id"), f"is {item_id!r} but this import is for work item {work_item_id!r}")
            continue
        for name in ("width", "height"):
            if line_fields[name].strip().isdigit():
                line_fields[name] = int(line_fields[name])
        if line_fields.get("prompt", None) == "":
            line_fields.pop("prompt")
        row = _parse_row(errors, at, line_fields)
        first_line.setdefault(item_id, at)
        rows.setdefault(item_id, []).extend([row] if row else [])
    if not first_line and not errors:
        errors.add("line 2", "the CSV file has no rows")
    items = [
        _WorkItem(first_line[i], i, None, None, pack_version="v2", shots=_merge_pack(errors, [], rows[i]))
        for i in first_line
    ]
    return _import(errors, items, [])
