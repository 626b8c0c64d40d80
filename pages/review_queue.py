"""Review queue: every pending hero across work items, oldest first, one at a time and large. `A` approves, `X`
rejects (with the note, if any), ←/→ move to the previous/next hero, `V` compares with the previous version;
`?work_item=7` filters to one work item."""

import streamlit as st

from services.errors import ReshootError
from ui.demo_progress import demo_progress
from ui.review_queue import (
    current_and_neighbours,
    decision_buttons,
    hero_details,
    hero_heading,
    hero_image,
    progress,
    queue_filter,
    start_session,
)

st.title("Review queue")
demo_progress()
try:
    only = queue_filter()
    start_session(only)
    hero, after, has_previous = current_and_neighbours(only)
except ReshootError as e:  # text no database can store (a NUL pasted in)
    st.error(f"Can’t filter by that: {e.message}", icon=":material/error:")
    st.stop()
progress(remaining_empty=hero is None)
if hero is None:
    st.success("Nothing pending here: every hero in this filter has a decision.", icon=":material/done_all:")
    st.stop()

hero_heading(hero)
image_col, details_col = st.columns([5, 4], gap="medium")
with image_col:
    hero_image(hero)
with details_col:
    decision_buttons(only, hero, after, has_previous)
    hero_details(hero)
