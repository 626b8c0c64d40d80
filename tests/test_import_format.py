"""docs/import-format.md and docs/import-format.schema.json say what the importer's models take."""

from __future__ import annotations

import json

import jsonschema
import pytest

from services.demo import DEMO_FILE
from services.import_format import (
    CSV_COLUMNS,
    DOC_FILE,
    SCHEMA_FILE,
    ImportDocument,
    rendered_docs,
    rendered_schema,
)


def test_the_docs_fields_table_is_generated_from_the_models():
    text = DOC_FILE.read_text(encoding="utf-8")
    assert rendered_docs(text) == text, "run python -m services.import_format"


def test_the_published_json_schema_is_the_models():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == rendered_schema(), "run python -m services.import_format"


def test_the_docs_csv_header_is_the_csv_columns():
    text = DOC_FILE.read_text(encoding="utf-8")
    assert ",".join(CSV_COLUMNS) in text.split("```csv", 1)[1]
    assert ", ".join(f"`{c}`" for c in ("shot_id", "sku", "size_label", "width", "height")) in text


def test_the_demo_file_is_valid_against_the_schema_and_the_models():
    document = json.loads(DEMO_FILE.read_text())
    jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))
    ImportDocument.model_validate(document)


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["workItems"][0]["lifestylePack"]["exportPlan"][0].update(width="1920"),
        lambda d: d["workItems"][0]["lifestylePack"]["exportPlan"][0].update(height=10_001),
        lambda d: d["workItems"][0].update(lifestylepack={}),
        lambda d: d["workItems"][0].update(id="7/8"),
        lambda d: d["workItems"][0]["lifestylePack"].update(version="v1"),
    ],
)
def test_the_schema_refuses_what_the_models_refuse(change):
    document = json.loads(DEMO_FILE.read_text())
    change(document)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))
    with pytest.raises(ValueError):
        ImportDocument.model_validate(document)
