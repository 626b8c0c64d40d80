"""What a work item without a Lifestyle Pack shows instead of the hero grid: why there is nothing, and how to import
a pack (the Settings page's import, with the expected format)."""

from __future__ import annotations

import json

import streamlit as st

from services.enums import SizeLabel
from services.read_models.heroes import WorkItemDetail
from ui.navigation import SETTINGS_PAGE
from ui.toasts import escape_markdown

FORMAT_DOC = "docs/import-format.md"


def csv_example(work_item_id: str) -> str:
    return (
        "work_item_id,shot_id,sku,size_label,width,height,filename,prompt\n"
        f"{work_item_id},S-1,SKU-123,{SizeLabel.desktop},1920,800,fcc/lifestyle/{work_item_id}/S-1/desktop.png,"
        "A linen duvet in morning light\n"
        f"{work_item_id},S-1,SKU-123,{SizeLabel.mobile},750,1000,fcc/lifestyle/{work_item_id}/S-1/mobile.png,\n"
    )


def json_example(work_item_id: str, title: str, status: str) -> str:
    row = {
        "shot_id": "S-1",
        "sku": "SKU-123",
        "size_label": str(SizeLabel.desktop),
        "width": 1920,
        "height": 800,
        "filename": f"fcc/lifestyle/{work_item_id}/S-1/desktop.png",
    }
    pack = {
        "version": "v2",
        "shots": [{"shot_id": "S-1", "sku": "SKU-123", "prompt": "A linen duvet in morning light"}],
        "exportPlan": [row],
    }
    item = {"id": work_item_id, "title": title, "status": status, "lifestylePack": pack}
    return json.dumps({"workItems": [item]}, indent=2, ensure_ascii=False)


def no_pack_notice(item: WorkItemDetail) -> None:
    work_item_id = item.id
    with st.container(border=True):
        st.markdown(
            f"**No Lifestyle Pack yet.** Work item {escape_markdown(work_item_id)} has no Lifestyle Pack v2, "
            "so it has no shots and no export plan to make hero images from. Import its pack (its shots "
            "and export plan), then generate."
        )
        st.page_link(SETTINGS_PAGE, label="Import a Lifestyle Pack on Settings", icon=":material/upload_file:")
        with st.expander("Expected format"):
            st.caption(
                f"An export-plan CSV (one row per shot and size; give it work item id "
                f"{escape_markdown(work_item_id)} or a `work_item_id` column):"
            )
            st.code(csv_example(work_item_id), language="csv")
            st.caption("or a JSON file with the pack under `workItems[].lifestylePack`:")
            st.code(json_example(work_item_id, item.title, item.status), language="json")
            st.caption(f"Every field and check: `{FORMAT_DOC}`.")
