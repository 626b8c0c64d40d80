"""Import a work-item/storyboard JSON or an export-plan CSV, showing the importer's own validation messages."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from services import messages
from services.errors import ReshootError
from services.identity import Role
from services.importer import import_file
from services.read_models.imports import ImportSummary
from ui.permissions import lacks, why_disabled
from ui.toasts import escape_markdown


def import_key(name: str) -> str:
    """The import panel's widget and state keys: `button`, `work_item`, `outcome`, `gen` (and the uploader's)."""
    return f"settings_import_{name}"


def import_upload(filename: str, data: bytes, *, work_item_id: str | None = None) -> ImportSummary:
    """Run the importer on uploaded bytes (saved under a fixed name: the uploaded name is never a path)."""
    suffix = ".csv" if filename.lower().endswith(".csv") else ".json"
    with tempfile.TemporaryDirectory(prefix="reshoot-import-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(data)
        return import_file(path, work_item_id=work_item_id)


def show_problems(error: ReshootError) -> None:
    details = error.details if isinstance(error.details, list) else [error.message or error.code]
    st.error(
        "Nothing was imported. " + f"{len(details)} problem{'s' if len(details) != 1 else ''}:", icon=":material/error:"
    )
    st.markdown("\n".join(f"- {escape_markdown(str(problem))}" for problem in details))


def show_summary(summary: ImportSummary) -> None:
    st.success(escape_markdown(messages.import_summary(summary)), icon=":material/check:")


def _run_import(uploader_key: str) -> None:
    """The Import click: import, keep the outcome for this run, and start over with an empty uploader."""
    upload = st.session_state.get(uploader_key)
    if upload is None:
        return
    work_item_id = (st.session_state.get(import_key("work_item")) or "").strip() or None
    try:
        st.session_state[import_key("outcome")] = (
            "ok",
            import_upload(upload.name, upload.getvalue(), work_item_id=work_item_id),
        )
    except ReshootError as e:
        st.session_state[import_key("outcome")] = ("error", e)
    st.session_state[import_key("gen")] = st.session_state.get(import_key("gen"), 0) + 1


def import_panel() -> None:
    uploader_key = import_key(str(st.session_state.get(import_key("gen"), 0)))
    upload = st.file_uploader("Work-item / storyboard JSON, or export-plan CSV", type=["json", "csv"], key=uploader_key)
    st.text_input(
        "Work item id for a CSV without a work_item_id column", key=import_key("work_item"), placeholder="e.g. 7"
    )
    st.button(
        "Import",
        icon=":material/upload_file:",
        type="primary",
        disabled=upload is None or lacks(Role.admin),
        help=why_disabled(Role.admin),
        key=import_key("button"),
        on_click=_run_import,
        args=(uploader_key,),
    )
    outcome = st.session_state.pop(import_key("outcome"), None)
    if outcome is not None:
        kind, value = outcome
        if kind == "ok":
            show_summary(value)
        else:
            show_problems(value)
