"""The audit trail in the UI: a target's recent changes (a small expander), and the Activity page's table and pager."""

from __future__ import annotations

from functools import partial

import streamlit as st

from services.audit import ActivityFilter, activity_csv
from services.read_models.audit import ActivityEntry
from ui.toasts import escape_markdown

RECENT_SHOWN = 8


def change_line(entry: ActivityEntry) -> str:
    """`2026-12-01 14:03 · Rita · Review — state: pending → approved`"""
    line = f"{entry.at:%Y-%m-%d %H:%M} · {entry.actor} · {entry.action_label}"
    return escape_markdown(f"{line} — {entry.change}" if entry.change else line)


def recent_changes(entries: list[ActivityEntry], *, label: str = "Recent changes") -> None:
    """Two elements: an expander and one list in it (the newest change first)."""
    with st.expander(f"{label} ({len(entries)})" if entries else f"{label} (none yet)"):
        st.markdown("\n".join(f"- {change_line(e)}" for e in entries) if entries else "Nothing recorded yet.")


def activity_rows(entries: list[ActivityEntry]) -> list[dict[str, str]]:
    return [
        {
            "When (UTC)": f"{e.at:%Y-%m-%d %H:%M:%S}",
            "Who": e.actor,
            "Action": e.action_label,
            "Where": e.where,
            "Change": e.change,
        }
        for e in entries
    ]


def csv_bytes(where: ActivityFilter) -> bytes:
    """Built only when the button is clicked (Streamlit calls it then); at most audit.CSV_ROW_LIMIT rows."""
    return "".join(activity_csv(where)).encode("utf-8")


def activity_key(name: str) -> str:
    """The Activity page's widget and state keys: `person`, `actions`, `work_item`, `dates`, `page`, `newer`, …"""
    return f"activity_{name}"


def csv_download(where: ActivityFilter) -> None:
    st.download_button(
        "Export CSV",
        data=partial(csv_bytes, where),
        file_name="reshoot-activity.csv",
        mime="text/csv",
        icon=":material/download:",
        key=activity_key("csv"),
        on_click="ignore",
    )
