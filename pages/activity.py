"""Activity: who changed what and when, filtered by person, action, work item and date; paged in SQL; CSV export."""

import streamlit as st

from services.audit import ActivityFilter, AuditAction, actors, list_activity
from services.identity import Role, current_actor
from ui.activity import activity_key, activity_rows, csv_download

PAGE_SIZE = 50

st.title("Activity")
if not current_actor().role.allows(Role.reviewer):
    st.warning(
        "Activity is for reviewers and admins. Ask an admin to give you the reviewer role.", icon=":material/lock:"
    )
    st.stop()


def first_page() -> None:
    st.session_state[activity_key("page")] = 1


names = dict(actors())
filters = st.container(horizontal=True, vertical_alignment="bottom")  # wraps onto a second line when narrow
person = filters.selectbox(
    "Person",
    list(names),
    index=None,
    placeholder="Everyone",
    key=activity_key("person"),
    format_func=lambda email: f"{names[email]} ({email})" if names.get(email) else email,
    width=240,
    on_change=first_page,
)
actions = filters.multiselect(
    "Action",
    list(AuditAction),
    format_func=lambda a: a.label,
    placeholder="Every action",
    key=activity_key("actions"),
    width=320,
    on_change=first_page,
)
work_item = filters.text_input(
    "Work item", placeholder="Any", key=activity_key("work_item"), width=110, on_change=first_page
)
dates = filters.date_input("Dates", value=[], key=activity_key("dates"), width=240, on_change=first_page)
since, until = (dates[0], dates[-1]) if dates else (None, None)
where = ActivityFilter(
    actor_email=person, actions=tuple(actions), work_item_id=work_item.strip() or None, since=since, until=until
)

page = st.session_state.setdefault(activity_key("page"), 1)
result = list_activity(where, page=page, page_size=PAGE_SIZE)
if not result.entries:
    st.info("No change matches these filters." if page == 1 else "No more changes.")
else:
    st.dataframe(
        activity_rows(result.entries),
        hide_index=True,
        width="stretch",
        column_config={"Change": st.column_config.TextColumn(width="large")},
    )
with st.container(horizontal=True, vertical_alignment="center"):
    st.button(
        "Newer",
        icon=":material/chevron_left:",
        key=activity_key("newer"),
        disabled=page <= 1,
        on_click=lambda: st.session_state.update({activity_key("page"): page - 1}),
    )
    st.caption(f"Page {page} · {PAGE_SIZE} a page", width="content")
    st.button(
        "Older",
        icon=":material/chevron_right:",
        key=activity_key("older"),
        disabled=not result.has_more,
        on_click=lambda: st.session_state.update({activity_key("page"): page + 1}),
    )
    csv_download(where)
