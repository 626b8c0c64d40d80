"""Work Items: search, filter and page through work items (in SQL); select a row to open it."""

from datetime import datetime

import streamlit as st

from services.errors import ReshootError
from services.versions import review_queue_count
from services.work_items import LIST_COUNT_LIMIT, list_statuses, list_work_items
from ui.demo_progress import demo_progress
from ui.navigation import REVIEW_QUEUE_PAGE, open_work_item, reviewed_share, work_items_key

PAGE_SIZE = 25
PACK_FILTERS = {"Any": None, "With Lifestyle Pack": True, "Without Lifestyle Pack": False}


def _first_page() -> None:
    st.session_state.pop(work_items_key("page"), None)


with st.container(horizontal=True, vertical_alignment="bottom", horizontal_alignment="distribute"):
    st.title("Work Items", width="content")
    pending_total = review_queue_count()
    st.page_link(
        REVIEW_QUEUE_PAGE,
        label=f"Review pending ({pending_total})",
        icon=":material/rule:",
        disabled=not pending_total,
        width="content",
    )
demo_progress()
search_col, status_col, pack_col = st.columns([3, 1, 1])
search = search_col.text_input(
    "Search", key=work_items_key("search"), placeholder="Title, id or SKU", on_change=_first_page
)
status = status_col.selectbox("Status", ["All", *list_statuses()], key=work_items_key("status"), on_change=_first_page)
pack = pack_col.selectbox("Lifestyle Pack", list(PACK_FILTERS), key=work_items_key("pack"), on_change=_first_page)

page_number = st.session_state.get(work_items_key("page"), 1)
try:
    result = list_work_items(
        search=search.strip() or None,
        status=None if status == "All" else status,
        has_pack=PACK_FILTERS[pack],
        page=page_number,
        page_size=PAGE_SIZE,
        count_limit=LIST_COUNT_LIMIT,  # a search found in 10,000 work items counts 1,000 past this page
    )
except ReshootError as e:  # a search no database can run (a NUL character pasted in)
    st.error(f"Can’t search for that: {e.message}", icon=":material/error:")
    st.stop()
items = result.items
if not items:
    st.info("No work items match these filters.")
    st.stop()

rows = [
    {
        "ID": item.id,
        "Title": item.title,
        "Status": item.status,
        "Pack": item.has_pack,
        "Shots": item.shot_count,
        "Approved": item.approved_count,
        "Rejected": item.rejected_count,
        "Pending": item.pending_reviews,
        "Reviewed": reviewed_share(item.approved_count + item.rejected_count, item.image_count),
        "Updated": datetime.fromisoformat(item.updated_at) if item.updated_at else None,
    }
    for item in items
]
selection = st.dataframe(
    rows,
    key=work_items_key("table"),
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    column_config={
        "ID": st.column_config.TextColumn(width=56),
        "Title": st.column_config.TextColumn(width=260),
        "Pack": st.column_config.CheckboxColumn(help="Has a Lifestyle Pack"),
        "Approved": st.column_config.NumberColumn(help="Current hero images approved"),
        "Rejected": st.column_config.NumberColumn(help="Current hero images rejected"),
        "Pending": st.column_config.NumberColumn(help="Current hero images waiting for a decision"),
        "Reviewed": st.column_config.ProgressColumn(
            help="Approved or rejected, of the current hero images",
            format="percent",
            min_value=0,
            max_value=1,
            width=90,
        ),
        "Updated": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
    },
)
# A capped count ("1,000+") reaches past this page, so the pager grows as the reader pages on.
num_pages = max(1, -(-(result.total + result.total_capped) // PAGE_SIZE))
found = f"{result.total:,}+" if result.total_capped else str(result.total)
footer_left, footer_right = st.columns([1, 1], vertical_alignment="center")
footer_left.caption(f"{found} work items · select a row to open it")
with footer_right:
    st.pagination(num_pages, default=min(page_number, num_pages), key=work_items_key("page"), width="stretch")

if selection.selection.rows:
    open_work_item(items[selection.selection.rows[0]].id)
