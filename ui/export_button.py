"""`Export approved (ZIP)` on the Work Item page: the ZIP is made only when clicked (Streamlit's deferred
download), so a page run costs one button; the CLI and the API stream the same export."""

from __future__ import annotations

from functools import partial

import streamlit as st

from services.identity import Actor, acting_as, current_actor
from services.read_models.heroes import WorkItemDetail
from services.reviews import download_name, export_approved

EXPORT_HELP = (
    "The approved heroes at their export-plan filenames, with manifest.csv and manifest.json listing every "
    "shot and size (approved or not, with version, seed, prompt, backend, reviewer)"
)


def approved_zip(work_item_id: str, actor: Actor) -> bytes:
    """The export's bytes, as the person who clicked (the download is served outside the script run)."""
    with acting_as(actor):
        return b"".join(export_approved(work_item_id=work_item_id).chunks)


def export_key(work_item_id: str) -> str:
    """`Export approved (ZIP)`'s key."""
    return f"detail_export_{work_item_id}"


def export_button(item: WorkItemDetail) -> None:
    st.download_button(
        "Export approved (ZIP)",
        data=partial(approved_zip, item.id, current_actor()),
        file_name=download_name(item.id),
        mime="application/zip",
        icon=":material/download:",
        on_click="ignore",
        help=EXPORT_HELP,
        key=export_key(item.id),
    )
