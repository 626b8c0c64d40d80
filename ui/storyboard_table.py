"""The storyboard table: one row per sentence, grouped by section, with thumbnail, prompt excerpt and dirty badges."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.images import absolute_url

EXCERPT = 90


def excerpt(text: str | None, limit: int = EXCERPT) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def flatten(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Sentences in reading order, each with `label` (section.sentence) and its section's title."""
    out = []
    for number, section in enumerate(board["sections"], start=1):
        for index, sentence in enumerate(section["sentences"], start=1):
            out.append({**sentence, "label": f"{number}.{index}", "sectionTitle": section["title"]})
    return out


def _badge(dirty: bool) -> str:
    return "● Dirty" if dirty else "✓ Current"


def sentence_table(board: dict[str, Any]) -> dict[str, Any] | None:
    """The table; returns the selected sentence (kept while the project stays the same), or None."""
    sentences = flatten(board)
    rows = [
        {
            "#": s["label"],
            "Section": s["sectionTitle"],
            "Text": s["text"],
            "Image": absolute_url(s.get("thumbUrl") or s.get("imageFile")),
            "Prompt": excerpt(s.get("imagePrompt")) or "(no prompt)",
            "Image state": _badge(s["isImageDirty"]),
            "Video state": _badge(s["isVideoDirty"]),
        }
        for s in sentences
    ]
    event = st.dataframe(
        rows,
        key=f"sb_table_{board['id']}",
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        row_height=64,
        height=min(64 * len(rows) + 40, 720),
        column_config={
            "#": st.column_config.TextColumn(width="small"),
            "Section": st.column_config.TextColumn(width="small"),
            "Text": st.column_config.TextColumn(width="medium"),
            "Image": st.column_config.ImageColumn("Preview", width="small"),
            "Prompt": st.column_config.TextColumn(width="medium"),
            "Image state": st.column_config.TextColumn("Image", width="small"),
            "Video state": st.column_config.TextColumn("Video", width="small"),
        },
    )
    if event.selection.rows:
        return sentences[event.selection.rows[0]]
    return None
