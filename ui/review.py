"""Review for the SKU Switcher: a shot's Desktop/Tablet/Mobile heroes in device frames at their real aspect ratios
(one row, equal heights), then one line per size to approve or reject it with an optional note."""

from __future__ import annotations

import html
from typing import Any, Literal

import streamlit as st

from services.comments import thread_summaries
from services.enums import ReviewState
from services.errors import ReshootError
from services.identity import Role
from services.read_models.comments import DecisionRead, ThreadSummary
from services.read_models.heroes import HeroTarget, ShotPublic
from services.versions import ReviewDecisionOptions, review_history, set_review
from ui.images import absolute_url
from ui.permissions import lacks, why_disabled
from ui.review_thread import comments_words, review_thread
from ui.toasts import escape_markdown, queue_toast

BadgeColor = Literal["orange", "green", "red"]
STATE_BADGES: dict[str, tuple[str, BadgeColor, str]] = {
    ReviewState.pending: ("Pending", "orange", ":material/hourglass_empty:"),
    ReviewState.approved: ("Approved", "green", ":material/check_circle:"),
    ReviewState.rejected: ("Rejected", "red", ":material/cancel:"),
}
FRAME_HEIGHT = 240  # px the frames share when the row is wide enough; they shrink together when it is not

_ROW = '<div style="display:flex;gap:16px;align-items:flex-end;width:100%">{frames}</div>'
_FRAME = (
    '<figure style="margin:0;flex:{ratio:.4f} 1 0;min-width:0;max-width:{max_width}px">'
    '<div style="aspect-ratio:{width}/{height};width:100%;box-sizing:border-box;border:6px solid #3f3f46;'
    'border-radius:{radius}px;overflow:hidden;background:#0f172a;display:flex;align-items:center;justify-content:center">'
    "{content}</div>"
    '<figcaption style="font-size:.8rem;opacity:.75;margin-top:4px">{label} · {width}×{height}</figcaption></figure>'
)
_IMAGE = '<img src="{src}" alt="{label} hero" style="display:block;width:100%;height:100%;object-fit:cover">'
_MISSING = (
    '<span style="font-size:.75rem;opacity:.7;padding:8px;text-align:center;word-break:break-all">{filename}</span>'
)


def device_row_html(rows: list[HeroTarget]) -> str:
    """The frames; flex-grow follows width/height so that every frame gets the same height."""
    frames = []
    for row in rows:
        label = html.escape(row.size_label)
        url = absolute_url(row.url)
        content = (
            _IMAGE.format(src=html.escape(url, quote=True), label=label)
            if url
            else _MISSING.format(filename=html.escape(row.filename))
        )
        ratio = row.width / row.height
        frames.append(
            _FRAME.format(
                ratio=ratio,
                max_width=int(FRAME_HEIGHT * ratio),
                width=row.width,
                height=row.height,
                radius=18 if ratio < 1 else 8,
                content=content,
                label=label,
            )
        )
    return _ROW.format(frames="".join(frames))


def review(version_id: int, state: ReviewState, note_key: str) -> None:
    """The signed-in person's decision (services read who it is); the note field empties after it is saved."""
    note = (st.session_state.get(note_key) or "").strip() or None
    try:
        set_review(version_id=version_id, options=ReviewDecisionOptions(state=state, note=note))
    except ReshootError as e:
        queue_toast("Couldn’t save the review", e.message or e.code, kind="error")
        return
    st.session_state[note_key] = ""  # a deleted key keeps the browser's text; an empty value clears the box


def decision_text(decision: DecisionRead) -> str:
    """`Approved by Ana · “Crop the lamp” · 2026-12-01 14:03 UTC`"""
    said = [f"{STATE_BADGES.get(decision.decision, STATE_BADGES['pending'])[0]} by {decision.reviewer}"]
    if decision.note:
        said.append(f"“{decision.note}”")
    said.append(f"{decision.at:%Y-%m-%d %H:%M} UTC")
    return escape_markdown(" · ".join(said))


def decisions(label_col: Any, history: list[DecisionRead], comment_count: int = 0) -> None:
    """The latest decision and the comment count as a caption (everything is in the version's thread below)."""
    said = [decision_text(history[0])] if history else []
    if comment_count:
        said.append(comments_words(comment_count))
    if said:
        label_col.caption(" · ".join(said))


def sku_key(name: str, suffix: str | int | None = None) -> str:
    """The SKU Switcher's widget keys: `sku_work_item`, `sku_sku_{workItemId}`, `sku_note_{versionId}`, …"""
    return f"sku_{name}" if suffix is None else f"sku_{name}_{suffix}"


def review_line(row: HeroTarget, *, history: list[DecisionRead], summary: ThreadSummary | None = None) -> None:
    """`Desktop · v2 [Pending]  [note…]  [Approve] [Reject]`, with the latest decision, then the version's history
    and comments (an expander)."""
    label_col, note_col, buttons_col = st.columns([2, 3, 2], vertical_alignment="center")
    version_id = row.version_id
    heading = label_col.container(horizontal=True, gap="small", vertical_alignment="center")
    heading.markdown(f"**{escape_markdown(row.size_label)}**", width="content")
    if version_id is None:
        heading.caption("No image yet", width="content")
        return
    state = row.review_state or ReviewState.pending
    text, color, icon = STATE_BADGES.get(state, STATE_BADGES[ReviewState.pending])
    heading.badge(f"{text} · v{row.version}", color=color, icon=icon)
    decisions(label_col, history, summary.comment_count if summary else 0)
    note_key = sku_key("note", version_id)
    note_col.text_input("Note", key=note_key, placeholder="Optional note", label_visibility="collapsed")
    with buttons_col.container(horizontal=True, gap="xsmall"):
        choices: tuple[tuple[ReviewState, str, Literal["primary", "secondary"]], ...] = (
            (ReviewState.approved, "Approve", "primary"),
            (ReviewState.rejected, "Reject", "secondary"),
        )
        for new_state, label, kind in choices:
            st.button(
                label,
                key=sku_key(new_state, version_id),
                type=kind,
                disabled=state == new_state or lacks(Role.reviewer),
                help=why_disabled(Role.reviewer),
                on_click=review,
                args=(version_id, new_state, note_key),
            )
    review_thread(version_id, key=sku_key("thread", version_id))


def review_shot(shot: ShotPublic) -> None:
    rows = shot.rows
    if not rows:
        return
    st.html(device_row_html(rows))
    version_ids = [r.version_id for r in rows if r.version_id]
    histories = review_history(version_ids)  # one query for the shot
    summaries = thread_summaries(version_ids=version_ids)  # and one for the comment counts
    for row in rows:
        version_id = row.version_id
        if version_id is None:
            review_line(row, history=[], summary=None)
        else:
            review_line(row, history=histories.get(version_id, []), summary=summaries.get(version_id))
