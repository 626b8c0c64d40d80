"""Toasts with a seed title and body; queued in session state so they survive `st.rerun()`."""

from __future__ import annotations

import re

import streamlit as st

_QUEUE_KEY = "ui_toast_queue"
_ICONS = {"success": ":material/check_circle:", "warning": ":material/warning:", "error": ":material/error:"}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~$])")


def escape_markdown(text: str) -> str:
    """Text shown literally inside Markdown (shot ids, filenames, reasons come from users)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def toast_text(title: str, body: str) -> str:
    return f"**{escape_markdown(title)}**\n\n{escape_markdown(body)}"


def show_toast(title: str, body: str, *, kind: str = "success") -> None:
    """Show a toast now (use inside a fragment that does not rerun the app afterwards)."""
    st.toast(toast_text(title, body), icon=_ICONS.get(kind), duration="long")


def queue_toast(title: str, body: str, *, kind: str = "success") -> None:
    """Show a toast on the next full run (use before `st.rerun()`)."""
    st.session_state.setdefault(_QUEUE_KEY, []).append((title, body, kind))


def show_queued_toasts() -> None:
    for title, body, kind in st.session_state.pop(_QUEUE_KEY, []):
        show_toast(title, body, kind=kind)
