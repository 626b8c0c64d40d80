"""An image version's review thread: its decisions (who, when, decision, note) and comments, and a box to add one.

Used in the large view and the SKU Switcher. It sits in an expander whose content runs only while it is open
(`on_change="rerun"`), so a closed thread costs one element and no query.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import streamlit as st

from services.comments import MAX_COMMENT_LENGTH, NewComment, add_comment, thread_summaries, version_thread
from services.errors import ReshootError
from services.identity import Role
from services.read_models.comments import CommentRead, DecisionRead, ThreadSummary
from ui.permissions import lacks, why_disabled
from ui.toasts import escape_markdown, show_toast

DECISION_WORDS = {"approved": ":green[Approved]", "rejected": ":red[Rejected]", "pending": ":orange[Back to pending]"}


def _when(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC"


def _quoted(text: str) -> str:
    """Text of several lines kept inside its list item."""
    return escape_markdown(text).replace("\n", "  \n  ")


def decision_line(decision: DecisionRead) -> str:
    """`- :red[Rejected] by **Ana** · 2026-12-01 14:03 UTC · “Too dark”`"""
    line = f"- {DECISION_WORDS.get(decision.decision, escape_markdown(decision.decision))} by "
    line += f"**{escape_markdown(decision.reviewer)}** · {_when(decision.at)}"
    return line + (f" · “{_quoted(decision.note)}”" if decision.note else "")


def comment_line(comment: CommentRead) -> str:
    """`- **Ana** · 2026-12-01 14:05 UTC  ⏎  The lamp is cut off.`"""
    return f"- **{escape_markdown(comment.author)}** · {_when(comment.at)}  \n  {_quoted(comment.body)}"


def thread_markdown(decisions: list[DecisionRead], comments: list[CommentRead]) -> str:
    """History, then comments, each oldest first: one Markdown element."""
    history = "\n".join(decision_line(d) for d in decisions) or "No decision yet."
    said = "\n".join(comment_line(c) for c in comments) or "No comments yet."
    return f"**History**\n\n{history}\n\n**Comments**\n\n{said}"


THREAD_LABEL = "History and comments"  # fixed: a label that changed (a count in it) would close the open expander


def comments_words(count: int) -> str:
    return f"{count} comment{'s' if count != 1 else ''}"


def summary_text(summary: ThreadSummary | None) -> str:
    """`Rejected by Ana · 2026-12-01 14:03 UTC · “Too dark” · 2 comments` (Markdown); `Pending · no comments`."""
    if summary is None:
        return ""
    state = DECISION_WORDS.get(summary.review_state, escape_markdown(summary.review_state))
    parts = [state if summary.review_state != "pending" else "Pending"]
    if summary.reviewer:
        parts[0] += f" by {escape_markdown(summary.reviewer)}"
    if summary.reviewed_at:
        parts.append(_when(summary.reviewed_at))
    if summary.review_note:
        parts.append(f"“{escape_markdown(summary.review_note)}”")
    parts.append(comments_words(summary.comment_count) if summary.comment_count else "no comments")
    return " · ".join(parts)


def _post(version_id: int, body_key: str, on_comment: Callable[[], None] | None) -> None:
    body = st.session_state.get(body_key) or ""
    try:
        add_comment(version_id=version_id, options=NewComment(body=body))
    except ReshootError as e:
        show_toast("Couldn’t add the comment", e.message or e.code, kind="error")
        return  # the text stays in its box
    st.session_state[body_key] = ""  # an empty value clears the box (a deleted key keeps the browser's text)
    show_toast("Comment added", body.strip()[:80])
    if on_comment is not None:
        on_comment()


ADD_COMMENT = "Add comment"


def comment_body_key(key: str) -> str:
    """The comment box of the thread whose widgets `key` names."""
    return f"{key}_body"


def thread_open_key(key: str) -> str:
    """The expander of the thread whose widgets `key` names (it tracks open and closed)."""
    return f"{key}_open"


def comment_button_key(key: str) -> str:
    """`Add comment` of that thread."""
    return f"{key}_add"


def add_comment_box(version_id: int, *, key: str, on_comment: Callable[[], None] | None = None) -> None:
    """A comment box and `Add comment`. Not a form: a form keeps its text in the browser until sent, so closing the
    thread lost it; this box's text reaches the server when it loses the focus, and Streamlit keeps it while the
    box is not drawn. No Ctrl+Enter on the button: a shortcut is the page's, so with two threads open (the SKU
    Switcher) it sent both boxes."""
    body_key = comment_body_key(key)
    disabled = lacks(Role.reviewer)
    st.text_area(
        "Add a comment",
        key=body_key,
        persist_state="page",  # kept while the thread is closed or another hero is shown
        max_chars=MAX_COMMENT_LENGTH,
        height=80,
        placeholder="What should change? Others see it with your name.",
        disabled=disabled,
    )
    st.button(
        ADD_COMMENT,
        key=comment_button_key(key),
        icon=":material/add_comment:",
        disabled=disabled,
        help=why_disabled(Role.reviewer),
        on_click=_post,
        args=(version_id, body_key, on_comment),
    )


def review_thread(
    version_id: int | None,
    *,
    key: str,
    with_summary: bool = False,
    on_comment: Callable[[], None] | None = None,
) -> None:
    """The thread of `version_id` in an expander that reads and draws only while open; `key` names its widgets.
    `with_summary`: a caption above it says the latest decision and the comment count (one query). `on_comment`
    runs after a comment was added (e.g. to update a card's count)."""
    if version_id is None:
        return
    if with_summary:
        st.caption(summary_text(thread_summaries(version_ids=[version_id]).get(version_id)))
    box = st.expander(THREAD_LABEL, icon=":material/forum:", key=thread_open_key(key), on_change="rerun")
    if not box.open:
        return
    with box:
        thread = version_thread(version_id=version_id)
        st.markdown(thread_markdown(thread.decisions, thread.comments))
        add_comment_box(version_id, key=key, on_comment=on_comment)
