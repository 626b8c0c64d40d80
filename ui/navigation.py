"""Moving between pages with the ids they need in the URL (`?id=7`), so every view can be linked to."""

from __future__ import annotations

import streamlit as st

from services.errors import ReshootError
from services.read_models.heroes import WorkItemDetail
from services.work_items import get_work_item
from ui.toasts import escape_markdown

WORK_ITEM_PAGE = "pages/work_item.py"
SKU_SWITCHER_PAGE = "pages/sku_switcher.py"
WORK_ITEMS_PAGE = "pages/work_items.py"
SETTINGS_PAGE = "pages/settings.py"
REVIEW_QUEUE_PAGE = "pages/review_queue.py"


def work_items_key(name: str) -> str:
    """The Work Items page's widget keys: `search`, `status`, `pack`, `page`, `table`."""
    return f"wi_{name}"


def open_work_item(work_item_id: str) -> None:
    st.switch_page(WORK_ITEM_PAGE, query_params={"id": work_item_id})


def reviewed_share(reviewed: int, total: int) -> float:
    """Reviewed ÷ total for a progress bar: 0 when there is nothing to review."""
    return reviewed / total if total else 0.0


def query_param(name: str) -> str | None:
    value = st.query_params.get(name)
    return value or None


def work_item_or_stop(work_item_id: str, **shot_page: int) -> WorkItemDetail:
    """`get_work_item()` (`shot_offset`/`shot_limit` passed on), or a plain "not found" message and the end of this run."""
    try:
        return get_work_item(work_item_id, **shot_page)
    except ReshootError as e:
        if e.code != "WORK_ITEM_NOT_FOUND":
            raise
        st.error(f"Work item {escape_markdown(work_item_id)} was not found.")
        st.stop()
