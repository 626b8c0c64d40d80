"""The Lifestyle Hero Preview written the naive way: each card's full-size image read from storage and passed to
`st.image` as bytes (so every run pushes every image through Streamlit's media store). A baseline, not a page."""

import streamlit as st

from services.storage import get_storage
from services.work_items import get_work_item

item = get_work_item(st.query_params["id"])
storage = get_storage()
st.title(item.title)
st.caption(f"Work item {item.id} · {item.status} · {len(item.shots)} shots")
st.subheader("Lifestyle Hero Preview")
with st.grid("auto", min_column_width=300, gap="small"):
    for shot in item.shots:
        rows = {row.size_label: row for row in shot.rows}
        with st.container(border=True, gap="xsmall"):
            picked = st.segmented_control(
                "Size",
                list(rows),
                default=next(iter(rows)),
                key=f"size_{shot.shot_id}",
                label_visibility="collapsed",
            )
            row = rows[picked or next(iter(rows))]
            st.image(storage.get(row.filename))
            st.caption(row.filename)
            st.caption(f"{shot.shot_id} · {shot.sku} · {row.width}×{row.height}")
