"""Review frames for the SKU Switcher: a shot's Desktop/Tablet/Mobile heroes side by side at their real aspect
ratios (column widths follow width/height, so the frames share one height), each with approve/reject and a note."""

from __future__ import annotations

from typing import Any

import streamlit as st

from services.errors import ReshootError
from services.versions import get_version, set_review
from ui.images import image_or_placeholder
from ui.toasts import escape_markdown, queue_toast

STATE_BADGES = {
    "pending": ("Pending", "orange", ":material/hourglass_empty:"),
    "approved": ("Approved", "green", ":material/check_circle:"),
    "rejected": ("Rejected", "red", ":material/cancel:"),
}


def review(version_id: int, state: str, note_key: str, reviewer_key: str) -> None:
    note = (st.session_state.get(note_key) or "").strip() or None
    reviewer = (st.session_state.get(reviewer_key) or "").strip() or None
    try:
        set_review(version_id, state=state, reviewer=reviewer, note=note)
    except ReshootError as e:
        queue_toast("Couldn’t save the review", e.message or e.code, kind="error")
        return
    st.session_state.pop(note_key, None)


def review_frame(row: dict[str, Any], *, reviewer_key: str) -> None:
    with st.container(border=True, gap="xsmall"):
        st.caption(f"**{escape_markdown(row['size_label'])}** · {row['width']}×{row['height']}")
        image_or_placeholder(row.get("url"), row["filename"], height=200)
        version_id = row.get("versionId")
        if version_id is None:
            return
        state = row.get("reviewState") or "pending"
        label, color, icon = STATE_BADGES.get(state, STATE_BADGES["pending"])
        st.badge(f"{label} · v{row['version']}", color=color, icon=icon)
        if state != "pending":  # who reviewed and their note live on the version (a few frames per page)
            version = get_version(version_id)
            by = f"by {version['reviewer']}" if version.get("reviewer") else ""
            note = f"“{version['reviewNote']}”" if version.get("reviewNote") else ""
            if by or note:
                st.caption(escape_markdown(" · ".join(p for p in (by, note) if p)))
        note_key = f"sku_note_{version_id}"
        st.text_input("Note", key=note_key, placeholder="Optional note", label_visibility="collapsed")
        with st.container(horizontal=True, gap="xsmall"):
            for state, text, kind in (("approved", "Approve", "primary"), ("rejected", "Reject", "secondary")):
                st.button(text, key=f"sku_{state}_{version_id}", type=kind, disabled=row.get("reviewState") == state,
                          on_click=review, args=(version_id, state, note_key, reviewer_key))


def review_shot(shot: dict[str, Any], *, reviewer_key: str) -> None:
    rows = shot["rows"]
    if not rows:
        return
    columns = st.columns([row["width"] / row["height"] for row in rows], gap="small")
    for column, row in zip(columns, rows):
        with column:
            review_frame(row, reviewer_key=reviewer_key)
