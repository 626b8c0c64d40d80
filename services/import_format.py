"""The import file formats (docs/import-format.md) as strict pydantic models, and their errors as located sentences.

A JSON document is `ImportDocument`; each CSV line (after its header) is an `ExportPlanCsvRow`. Validation reports
every problem of the file at once, each as `where: what`, where `where` is the JSON path with the file's own key
names (`workItems[1].lifestylePack.exportPlan[3].width`) or a CSV line (`line 5, width`). What only the whole file
or the database can tell (duplicates, a shot's rows that disagree, files on disk) is checked by services.importer.
"""

from __future__ import annotations

import json
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from services.errors import ReshootError
from services.storage import validate_key

PACK_VERSIONS = ("v2",)
HERO_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
MAX_SIDE = 10_000
MAX_TEXT = 500
MAX_PROMPT = 4000
IDENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$"  # ids end up in storage keys
IDENT_RULE = "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
SIDE_RULE = f"must be a whole number from 1 to {MAX_SIDE}"
FOCAL_RULE = "must be [x, y] with both numbers from 0 to 1"


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _hero_filename(value: str) -> str:
    try:
        validate_key(value)
    except ReshootError as e:
        raise ValueError(f"is not a safe storage key ({e.message})") from None
    if not value.lower().endswith(HERO_EXTENSIONS):
        raise ValueError(f"must end with one of {', '.join(HERO_EXTENSIONS)}")
    return value


def _focal(value: Any) -> Any:
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1 for v in value)
    ):
        raise ValueError(FOCAL_RULE)
    return (float(value[0]), float(value[1]))


def _text(max_length: int = MAX_TEXT) -> Any:
    return Field(min_length=1, max_length=max_length)


Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=IDENT_PATTERN)]
Text = Annotated[str, _text(), AfterValidator(_not_blank)]
Status = Annotated[str, _text(32), AfterValidator(_not_blank)]
Sku = Annotated[str, _text(128), AfterValidator(_not_blank)]
SizeLabel = Annotated[str, _text(32), AfterValidator(_not_blank)]
LongText = Annotated[str, _text(MAX_PROMPT), AfterValidator(_not_blank)]
Prompt = Annotated[str, Field(max_length=MAX_PROMPT)]  # may be empty: no prompt
HeroFilename = Annotated[
    str,
    Field(min_length=1, max_length=512),
    AfterValidator(_not_blank),
    AfterValidator(_hero_filename),
]
Side = Annotated[int, Field(ge=1, le=MAX_SIDE)]
Unit = Annotated[float, Field(ge=0, le=1)]
Focal = Annotated[tuple[Unit, Unit], BeforeValidator(_focal)]
RelativePath = Annotated[str, Field(min_length=1)]
StyleLora = Annotated[str, _text(255), AfterValidator(_not_blank)]


class _Strict(BaseModel):
    # Unknown keys are errors: they are usually typos. The file's own key names are used in Python too where they
    # are snake_case; camelCase ones are aliases.
    model_config = ConfigDict(strict=True, extra="forbid")


class ExportPlanRowImport(_Strict):
    """One size of one shot: the image served at `filename`, `width` × `height`."""

    model_config = ConfigDict(title="export plan row")

    shot_id: Ident
    sku: Sku
    size_label: SizeLabel
    width: Side
    height: Side
    filename: HeroFilename
    prompt: Prompt | None = None


class ShotImport(_Strict):
    """A shot's own fields; a shot is also made by any export plan row naming its `shot_id`."""

    model_config = ConfigDict(title="shot (in `shots`)")

    shot_id: Ident
    sku: Sku
    prompt: Prompt | None = None
    locked: bool | None = Field(default=None, description="true/false")
    focal: Focal | None = Field(default=None, description="`[x, y]`, 0–1: the crop centre for export sizes")


class LifestylePackImport(_Strict):
    model_config = ConfigDict(title="`lifestylePack`")

    version: Literal["v2"] = Field(default="v2", description='only `"v2"`; the default')
    shots: list[ShotImport] = Field(default_factory=list)
    export_plan: list[ExportPlanRowImport] = Field(alias="exportPlan", description="a list, may be empty")


class WorkItemImport(_Strict):
    model_config = ConfigDict(title="work item")

    id: Ident
    title: Text
    status: Status
    lifestyle_pack: LifestylePackImport | None = Field(
        default=None, alias="lifestylePack", description="leave it out for a work item with no pack yet"
    )


class CastMemberImport(_Strict):
    model_config = ConfigDict(title="cast member")

    name: Text
    reference_images: list[RelativePath] = Field(alias="referenceImages", description="paths relative to the JSON file")
    style_lora: StyleLora | None = Field(default=None, alias="styleLora", description="a name, or `null` for none")


class SentenceImport(_Strict):
    model_config = ConfigDict(title="sentence")

    text: LongText
    id: Ident | None = None
    image_prompt: Prompt | None = Field(default=None, alias="imagePrompt")


class SectionImport(_Strict):
    model_config = ConfigDict(title="section")

    title: Text
    sentences: list[SentenceImport]
    id: Ident | None = None


class ProjectImport(_Strict):
    model_config = ConfigDict(title="project")

    id: Ident
    title: Text
    sections: list[SectionImport]
    cast: list[CastMemberImport] = Field(default_factory=list)


class ImportDocument(_Strict):
    """A JSON import file: work items (with their Lifestyle Packs), storyboard projects, or both."""

    work_items: list[WorkItemImport] = Field(default_factory=list, alias="workItems")
    projects: list[ProjectImport] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _something(cls, data: Any) -> Any:
        if isinstance(data, dict) and "workItems" not in data and "projects" not in data:
            raise ValueError("has neither workItems nor projects")
        return data


class ExportPlanCsvRow(ExportPlanRowImport):
    """One CSV line: its values are text, so `width` and `height` are read as whole numbers written in digits."""

    model_config = ConfigDict(strict=False)


CSV_COLUMNS = ("work_item_id", *ExportPlanCsvRow.model_fields)
CSV_REQUIRED = tuple(name for name, field in ExportPlanCsvRow.model_fields.items() if field.is_required())


# --- Errors as sentences ------------------------------------------------------------------------------------------


def location(parts: Sequence[int | str]) -> str:
    """`("workItems", 1, "lifestylePack")` -> `workItems[1].lifestylePack`."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _model_at(model: type[BaseModel], parts: Sequence[int | str]) -> type[BaseModel] | None:
    """The model of the object at `parts` inside `model`'s data (None: not an object of a model)."""
    current: Any = model
    for part in parts:
        if isinstance(part, int):
            current = _unwrap(current, want=list)
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = next((f for n, f in current.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return None
        current = field.annotation
    current = _unwrap(current, want=BaseModel)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any, *, want: type) -> Any:
    """`X | None` -> X; `list[X]` -> X when `want` is list."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        return _unwrap(options[0], want=want) if len(options) == 1 else annotation
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0], want=want)
    if want is list and origin is list:
        return get_args(annotation)[0]
    return annotation


def field_names(model: type[BaseModel]) -> list[str]:
    """The keys of `model`'s objects in the file, required ones first."""
    fields = sorted(model.model_fields.items(), key=lambda item: not item[1].is_required())
    return [field.alias or name for name, field in fields]


def _sentence(error: Mapping[str, Any], root: type[BaseModel]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        model = _model_at(root, error["loc"][:-1])
        expected = f" (expected one of: {', '.join(field_names(model))})" if model else ""
        return f"unknown field{expected}"
    if kind == "string_type":
        return "must be a string"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"is longer than {ctx['max_length']} characters"
    if kind == "string_pattern_mismatch":
        return IDENT_RULE
    if kind in ("int_type", "int_parsing", "int_from_float", "greater_than_equal", "less_than_equal"):
        return SIDE_RULE
    if kind == "bool_type":
        return "must be true or false"
    if kind in ("list_type", "tuple_type"):
        return "must be a list"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "must be an object"
    if kind == "value_error":  # the validators' own sentences (ValueError)
        return str(ctx["error"])
    if kind == "literal_error":
        return f"must be one of {str(ctx.get('expected', '')).replace(chr(39), '')}"
    return str(error["msg"])


def problems(error: ValidationError, root: type[BaseModel], *, where: Any = None) -> list[str]:
    """`error` as `where: what` sentences; `where(loc)` names a location (default: the JSON path, `(file)` for
    the document itself)."""
    name = where or (lambda loc: location(loc) or "(file)")
    return [f"{name(item['loc'])}: {_sentence(item, root)}" for item in error.errors(include_url=False)]


# --- The documentation, generated from the JSON Schema -----------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs"
DOC_FILE = DOCS / "import-format.md"
SCHEMA_FILE = DOCS / "import-format.schema.json"
TABLE_START = "<!-- fields: generated from services/import_format.py by `python -m services.import_format` -->"
TABLE_END = "<!-- /fields -->"
DOCUMENTED = (
    WorkItemImport,
    LifestylePackImport,
    ExportPlanRowImport,
    ShotImport,
    ProjectImport,
    CastMemberImport,
    SectionImport,
    SentenceImport,
)


def json_schema() -> dict[str, Any]:
    return ImportDocument.model_json_schema(by_alias=True)


def fields_table() -> str:
    """Each object's required and optional keys (with their notes), as docs/import-format.md shows them."""
    definitions = json_schema()["$defs"]
    lines = ["| object | required | optional |", "|---|---|---|"]
    for model in DOCUMENTED:
        definition = definitions[model.__name__]
        properties: dict[str, dict[str, Any]] = definition["properties"]
        required = definition.get("required", [])

        def keys(names: list[str], properties: dict[str, dict[str, Any]] = properties) -> str:
            return ", ".join(
                f"`{name}`" + (f" ({properties[name]['description']})" if "description" in properties[name] else "")
                for name in names
            )

        optional = [name for name in properties if name not in required]
        lines.append(f"| {definition['title']} | {keys(required)} | {keys(optional)} |")
    return "\n".join(lines)


def rendered_docs(text: str) -> str:
    """`text` (docs/import-format.md) with its fields table regenerated."""
    before, rest = text.split(TABLE_START, 1)
    _, after = rest.split(TABLE_END, 1)
    return f"{before}{TABLE_START}\n\n{fields_table()}\n\n{TABLE_END}{after}"


def rendered_schema() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    DOC_FILE.write_text(rendered_docs(DOC_FILE.read_text(encoding="utf-8")), encoding="utf-8")
    SCHEMA_FILE.write_text(rendered_schema(), encoding="utf-8")


if __name__ == "__main__":
    main()
