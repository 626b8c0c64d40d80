"""Toasts with a seed title and body; queued in session state so they survive `st.rerun()`."""

from __future__ import annotations

import re
import time

import streamlit as st

_QUEUE_KEY = "ui_toast_queue"
_RECENT_KEY = "ui_toast_recent"  # toast text -> (when shown, repeats within TOAST_SECONDS)
TOAST_SECONDS = 12  # a little longer than a `duration="long"` toast stays (10 s)
ZERO_WIDTH_SPACE = "\u200b"
_ICONS = {"success": ":material/check_circle:", "warning": ":material/warning:", "error": ":material/error:"}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~$])")


def escape_markdown(text: str) -> str:
    """Text shown literally inside Markdown (shot ids, filenames, reasons come from users)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def toast_text(title: str, body: str) -> str:
    """Title and body in one paragraph, a line break apart: a toast shows three lines before `view more`, and a
    paragraph gap would spend most of one."""
    return f"**{escape_markdown(title)}**  \n{escape_markdown(body)}"


def show_toast(title: str, body: str, *, kind: str = "success") -> None:
    """Show a toast now (use inside a fragment that does not rerun the app afterwards)."""
    st.toast(_distinct(toast_text(title, body)), icon=_ICONS.get(kind), duration="long")


def _distinct(text: str) -> str:
    """`text`, made different from an identical toast still on screen: the browser drops a toast whose place in the
    page and text equal a visible one's (a second `Regenerate shot` of the same card would show nothing), so a
    repeat within TOAST_SECONDS ends in as many zero-width spaces as repeats before it (invisible)."""
    now, recent = time.monotonic(), st.session_state.setdefault(_RECENT_KEY, {})
    shown_at, repeats = recent.get(text, (float("-inf"), -1))
    repeats = repeats + 1 if now - shown_at < TOAST_SECONDS else 0
    recent[text] = (now, repeats)
    return text + ZERO_WIDTH_SPACE * repeats


def queue_toast(title: str, body: str, *, kind: str = "success") -> None:
    """Show a toast on the next full run (use before `st.rerun()`)."""
    st.session_state.setdefault(_QUEUE_KEY, []).append((title, body, kind))


def show_queued_toasts() -> None:
    for title, body, kind in st.session_state.pop(_QUEUE_KEY, []):
        show_toast(title, body, kind=kind)
