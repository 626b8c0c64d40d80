"""The storyboard table: one row per sentence, grouped by section, with thumbnail, prompt excerpt and dirty badges."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from services.read_models.storyboard import SentencePublic, StoryboardPublic
from ui.images import absolute_url

EXCERPT = 90
COLUMN_WIDTHS = {"#": 40, "Text": 160, "Image": 80, "Prompt": 140, "Dirty": 96}  # px
TABLE_WIDTH = sum(COLUMN_WIDTHS.values()) + 40  # + the row-selection column and borders: 556 px, fits 1024 px


def storyboard_key(name: str, project_id: str | None = None) -> str:
    """The Storyboard page's keys: `project` (the picker) and a project's `table`."""
    return f"sb_{name}" if project_id is None else f"sb_{name}_{project_id}"


def excerpt(text: str | None, limit: int = EXCERPT) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class Scene:
    """A sentence as the table numbers it: `label` is section.sentence (`1.2`)."""

    sentence: SentencePublic
    label: str
    section_title: str


def flatten(board: StoryboardPublic) -> list[Scene]:
    """Sentences in reading order, each with its label and its section's title."""
    return [
        Scene(sentence, f"{number}.{index}", section.title)
        for number, section in enumerate(board.sections, start=1)
        for index, sentence in enumerate(section.sentences, start=1)
    ]


def dirty_badge(sentence: SentencePublic) -> str:
    """Which outputs are out of date: `image · video`, `video`, or `✓` when neither is."""
    dirty = [name for name, flag in (("image", sentence.is_image_dirty), ("video", sentence.is_video_dirty)) if flag]
    return "● " + " · ".join(dirty) if dirty else "✓"


def sentence_table(board: StoryboardPublic, *, linked: str | None = None) -> Scene | None:
    """The table; returns the selected sentence (kept while the project stays the same), or None. `linked` (a
    sentence id from the URL) is selected when the table is first shown."""
    scenes = flatten(board)
    linked_rows = [i for i, scene in enumerate(scenes) if scene.sentence.id == linked]
    rows = [
        {
            "#": scene.label,
            "Text": scene.sentence.text,
            "Image": absolute_url(scene.sentence.thumb_url or scene.sentence.image_file) or "",
            "Prompt": excerpt(scene.sentence.image_prompt) or "(no prompt)",
            "Dirty": dirty_badge(scene.sentence),
        }
        for scene in scenes
    ]
    event = st.dataframe(
        rows,
        key=storyboard_key("table", board.id),
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
        return scenes[event.selection.rows[0]]
    return None
