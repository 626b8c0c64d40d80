"""The storyboard table: one row per sentence, grouped by section, with thumbnail, prompt excerpt and dirty badges."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.images import absolute_url

EXCERPT = 90
COLUMN_WIDTHS = {"#": 40, "Text": 160, "Image": 80, "Prompt": 140, "Dirty": 96}  # px
TABLE_WIDTH = sum(COLUMN_WIDTHS.values()) + 40  # + the row-selection column and borders: 556 px, fits 1024 px


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


def dirty_badge(sentence: dict[str, Any]) -> str:
    """Which outputs are out of date: `image · video`, `video`, or `✓` when neither is."""
    dirty = [name for name, flag in (("image", sentence["isImageDirty"]), ("video", sentence["isVideoDirty"])) if flag]
    return "● " + " · ".join(dirty) if dirty else "✓"


def sentence_table(board: dict[str, Any], *, linked: str | None = None) -> dict[str, Any] | None:
    """The table; returns the selected sentence (kept while the project stays the same), or None. `linked` (a
    sentence id from the URL) is selected when the table is first shown."""
    sentences = flatten(board)
    linked_rows = [i for i, s in enumerate(sentences) if s["id"] == linked]
    rows = [
        {
            "#": s["label"],
            "Text": s["text"],
            "Image": absolute_url(s.get("thumbUrl") or s.get("imageFile")) or "",
            "Prompt": excerpt(s.get("imagePrompt")) or "(no prompt)",
            "Dirty": dirty_badge(s),
        }
        for s in sentences
    ]
    event = st.dataframe(
        rows,
        key=f"sb_table_{board['id']}",
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        selection_default={"selection": {"rows": linked_rows}} if linked_rows else None,
        row_height=64,
        height=min(64 * len(rows) + 40, 720),
        column_config={
            "#": st.column_config.TextColumn(width=COLUMN_WIDTHS["#"], help="Section.sentence"),
            "Text": st.column_config.TextColumn(
                width=COLUMN_WIDTHS["Text"], help="The sentence (whole in the inspector)"
            ),
            "Image": st.column_config.ImageColumn("Image", width=COLUMN_WIDTHS["Image"]),
            "Prompt": st.column_config.TextColumn(
                width=COLUMN_WIDTHS["Prompt"], help="The image prompt (whole in the inspector)"
            ),
            "Dirty": st.column_config.TextColumn(
                width=COLUMN_WIDTHS["Dirty"], help="Out of date since the prompt changed"
            ),
        },
    )
    if event.selection.rows:
        return sentences[event.selection.rows[0]]
    return None
