"""Storyboard: a project's sections and sentences; selecting one opens the Scene Inspector beside the table.
`?project=…&sentence=sent_001` opens a project and a sentence directly; the address bar follows the selection."""

import streamlit as st

from services.storyboard import get_storyboard, list_projects
from ui.scene_inspector import scene_inspector
from ui.storyboard_table import TABLE_WIDTH, sentence_table, storyboard_key
from ui.toasts import escape_markdown

st.title("Storyboard")
projects = {p.id: p for p in list_projects()}
if not projects:
    st.info("No storyboard projects yet. Import one on the Settings page.")
    st.stop()
linked_project = st.query_params.get("project")
project_id = st.selectbox(
    "Project",
    list(projects),
    index=list(projects).index(linked_project) if linked_project in projects else 0,
    format_func=lambda pid: f"{projects[pid].title} · {projects[pid].sentence_count} sentences",
    key=storyboard_key("project"),
)
st.query_params["project"] = project_id  # always in the address bar, so the link names it
board = get_storyboard(project_id)
# Side by side where both fit (1440 px), the inspector below the table where they do not (1024 px): never cut.
board_row = st.container(horizontal=True, gap="medium")
with board_row.container(width=TABLE_WIDTH):
    scene = sentence_table(board, linked=st.query_params.get("sentence"))
if scene is None:
    st.query_params.pop("sentence", None)
else:
    st.query_params["sentence"] = scene.sentence.id
with board_row.container(width="stretch"):
    if scene is None:
        st.info("Select a sentence in the table to open the Scene Inspector.")
    else:
        st.subheader(f"Scene {scene.label} · {escape_markdown(scene.section_title)}", anchor=False)
        st.caption(escape_markdown(scene.sentence.text))
        scene_inspector(scene.sentence)
