"""Work Item detail (`?id=7`): the Actions panel and the Lifestyle Hero Preview grid, from one get_work_item()."""

import streamlit as st

from services.errors import ReshootError
from services.jobs import active_job_for
from services.lifestyle import heroes_target_key
from services.work_items import get_work_item
from ui.actions_panel import actions_panel
from ui.hero_card import hero_grid
from ui.navigation import WORK_ITEMS_PAGE, query_param
from ui.toasts import escape_markdown

st.page_link(WORK_ITEMS_PAGE, label="All work items", icon=":material/arrow_back:")
work_item_id = query_param("id")
if not work_item_id:
    st.info("Pick a work item on the Work Items page.")
    st.stop()
try:
    item = get_work_item(work_item_id)
except ReshootError as e:
    if e.code != "WORK_ITEM_NOT_FOUND":
        raise
    st.error(f"Work item {escape_markdown(work_item_id)} was not found.")
    st.stop()

st.title(escape_markdown(item["title"]))
st.caption(f"Work item {escape_markdown(item['id'])} · {escape_markdown(item['status'])} · "
           f"{len(item['shots'])} shots")
actions_panel(item, active_job=active_job_for(heroes_target_key(item["id"], None)) if item["hasPack"] else None)

st.subheader("Lifestyle Hero Preview")
hero_grid(item)
