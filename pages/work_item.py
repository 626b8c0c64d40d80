"""Work Item detail (`?id=7`): the Actions panel and the Lifestyle Hero Preview grid, from one get_work_item()
of the grid page's shots."""

import streamlit as st

from services.jobs import active_job_for
from services.lifestyle import heroes_target_key
from services.messages import plural
from ui.actions_panel import actions_panel
from ui.bulk_review import bulk_bar
from ui.demo_progress import demo_progress
from ui.export_button import export_button
from ui.grid_density import density_toggle, is_compact
from ui.hero_card import grid_page, hero_grid, turn_to_linked_shot
from ui.large_view import open_linked_large_view
from ui.navigation import SKU_SWITCHER_PAGE, WORK_ITEMS_PAGE, query_param, work_item_or_stop
from ui.no_pack import no_pack_notice
from ui.shared_models import shared_work_item
from ui.toasts import escape_markdown

st.page_link(WORK_ITEMS_PAGE, label="All work items", icon=":material/arrow_back:")
work_item_id = query_param("id")
if not work_item_id:
    st.info("Pick a work item on the Work Items page.")
    st.stop()
# Only the grid page's shots; shared with other sessions holding equal ones (a closed tab's session is kept a while).
item = shared_work_item(work_item_or_stop(work_item_id, **grid_page(work_item_id)))

st.title(escape_markdown(item.title))
demo_progress()
st.caption(
    f"Work item {escape_markdown(item.id)} · {escape_markdown(item.status)} · "
    + (plural(item.shot_count, "shot") if item.has_pack else "no Lifestyle Pack")
)
# The compact grid is for reviewing: its cards come first (two rows above the fold whatever the panel lists, e.g.
# the rejected heroes), the Actions panel below them.
below_grid = item.has_pack and is_compact()
if not below_grid:
    actions_panel(item, active_job=active_job_for(heroes_target_key(item.id, None)) if item.has_pack else None)

if not item.has_pack:
    no_pack_notice(item)
    st.stop()
with st.container(horizontal=True, vertical_alignment="bottom", horizontal_alignment="distribute"):  # wraps, never cuts
    st.subheader("Lifestyle Hero Preview", anchor=False, width="content")
    st.page_link(
        SKU_SWITCHER_PAGE,
        label="Open SKU Switcher → Validate",
        icon=":material/devices:",
        query_params={"id": item.id},
    )
    export_button(item)
    density_toggle()
    compact = is_compact()
    if compact:  # the bar in a menu, so that two rows of compact cards fit above the fold
        with st.popover("Bulk review", icon=":material/checklist:"):
            bulk_bar(item)
turn_to_linked_shot(item)
if not compact:
    bulk_bar(item)
hero_grid(item)
if below_grid:
    actions_panel(item, active_job=active_job_for(heroes_target_key(item.id, None)))
open_linked_large_view(item)
