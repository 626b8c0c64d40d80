"""SKU Switcher: one work item's heroes for one SKU at Desktop, Tablet and Mobile, to approve or reject."""

import streamlit as st

from services.enums import ReviewState
from services.identity import current_actor
from services.work_items import list_work_items
from ui.navigation import query_param, work_item_or_stop
from ui.review import review_shot, sku_key
from ui.toasts import escape_markdown

st.title("SKU Switcher")
items = {i.id: i for i in list_work_items(has_pack=True, page_size=200).items}
wanted = query_param("id")
if not items and not wanted:
    st.info("No work item has a Lifestyle Pack yet.")
    st.stop()
choices = list(items) if wanted in items or not wanted else [wanted, *items]
picker, sku_picker, pending_col = st.columns([4, 3, 3], vertical_alignment="bottom")  # "Only pending" fits at 1024 px
work_item_id = picker.selectbox(
    "Work item",
    choices,
    index=choices.index(wanted) if wanted in choices else 0,
    format_func=lambda wid: f"{wid} · {items[wid].title}" if wid in items else wid,
    key=sku_key("work_item"),
)
st.query_params["id"] = work_item_id
pending_only = pending_col.toggle("Only pending", key=sku_key("pending_only"))
item = work_item_or_stop(work_item_id)

shots = [
    shot.model_copy(
        update={"rows": [r for r in shot.rows if not pending_only or r.review_state == ReviewState.pending]}
    )
    for shot in item.shots
]
shots = [shot for shot in shots if shot.rows]
skus = list(dict.fromkeys(shot.sku for shot in shots))
all_rows = [row for shot in item.shots for row in shot.rows]
states = [row.review_state for row in all_rows if row.version_id]
st.caption(
    f"{escape_markdown(item.title)} · {states.count(ReviewState.pending)} pending · "
    f"{states.count(ReviewState.approved)} approved · {states.count(ReviewState.rejected)} rejected · "
    f"{len(all_rows) - len(states)} without an image"
)
if not skus:
    st.info("Nothing is waiting for review here." if pending_only else "This work item has no shots yet.")
    st.stop()
linked_sku = st.query_params.get("sku")
sku = sku_picker.selectbox(
    "SKU", skus, index=skus.index(linked_sku) if linked_sku in skus else 0, key=sku_key("sku", work_item_id)
)
st.query_params["sku"] = sku  # `?id=7&sku=…` opens this SKU directly
me = current_actor()
who = f"{me.label} ({me.email})" if me.label != me.email else me.email
st.caption(f"Your decisions are recorded as {escape_markdown(who)}.")
for shot in (s for s in shots if s.sku == sku):
    st.subheader(f"{escape_markdown(shot.shot_id)} · {escape_markdown(shot.sku)}", anchor=False)
    review_shot(shot)
