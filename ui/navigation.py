"""Moving between pages with the ids they need in the URL (`?id=7`), so every view can be linked to."""

from __future__ import annotations

import streamlit as st

WORK_ITEM_PAGE = "pages/work_item.py"
SKU_SWITCHER_PAGE = "pages/sku_switcher.py"
WORK_ITEMS_PAGE = "pages/work_items.py"


def open_work_item(work_item_id: str) -> None:
    st.switch_page(WORK_ITEM_PAGE, query_params={"id": work_item_id})


def query_param(name: str) -> str | None:
    value = st.query_params.get(name)
    return value or None
