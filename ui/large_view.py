"""The large view of a hero (a dialog over the grid): the full-size image of one size of a shot, its name, size and
seed, its references, recent changes and file metadata; the address bar (`?shot=&size=`) follows it, so a link
opens it again."""

from __future__ import annotations

from functools import partial
from typing import Literal

import streamlit as st

from services.audit import hero_history
from services.read_models.heroes import WorkItemDetail
from ui.activity import RECENT_SHOWN, recent_changes
from ui.file_metadata import file_metadata_expander
from ui.hero_prompt import hero_versions, load_card_notes
from ui.hero_state import card_key, card_shot, references_html, selected_row
from ui.images import image_or_placeholder
from ui.review_thread import review_thread
from ui.seeds import seed_words
from ui.toasts import escape_markdown

LARGE_VIEW_MAX_HEIGHT = 640  # px


def close_large_view() -> None:
    """The large view was dismissed: the address bar no longer names its shot and size."""
    for name in ("shot", "size"):
        st.query_params.pop(name, None)


def open_linked_large_view(item: WorkItemDetail) -> None:
    """`?shot=OL-2&size=Mobile` (a link someone sent): open that shot's large view (call after the grid)."""
    shot_id = st.query_params.get("shot")
    if not shot_id:
        return
    opened_by_card = st.session_state.get(card_key("view", item.id, shot_id))  # its View larger, in this run
    if not opened_by_card and any(shot.shot_id == shot_id for shot in item.shots):
        large_view(item.id, shot_id)


@st.dialog("Lifestyle hero", width="large", on_dismiss=close_large_view)
def large_view(work_item_id: str, shot_id: str) -> None:
    """The full-size image of the size picked here, with its name and size; `?shot=&size=` follow it."""
    shot = card_shot(work_item_id, shot_id)
    row = selected_row(work_item_id, shot, key_name="dialog_size", default=st.query_params.get("size"))
    if row is None:
        return
    st.query_params.update(shot=shot_id, size=row.size_label)
    ratio = row.width / row.height
    # a portrait hero fits the screen
    width: int | Literal["stretch"] = "stretch" if ratio >= 1 else int(LARGE_VIEW_MAX_HEIGHT * ratio)
    image_or_placeholder(row.url, row.filename, width=width, height=300)
    st.caption(escape_markdown(row.filename))
    seed = seed_words(row.seed, row.seed_honoured)
    st.caption(
        f"{escape_markdown(shot_id)} · {escape_markdown(shot.sku)} · "
        f"{escape_markdown(row.size_label)} {row.width}×{row.height}" + (f" · {seed}" if seed else "")
    )
    refs = references_html(shot)
    if refs:
        st.markdown(refs, unsafe_allow_html=True)
    recent_changes(hero_history(work_item_id, shot_id, row.size_label, limit=RECENT_SHOWN))
    review_thread(
        row.version_id,
        key=card_key(f"thread_{row.size_label}", work_item_id, shot_id),
        with_summary=True,
        on_comment=partial(load_card_notes, work_item_id, [shot_id]),  # the card's comment count
    )
    hero_versions(work_item_id, shot_id, row)
    file_metadata_expander(row.version_id, key=card_key("file_metadata", work_item_id, shot_id))
