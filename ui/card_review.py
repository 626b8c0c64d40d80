"""A hero's review state where the hero is shown (grid cards, large view): coloured badges per size inside the card's
one Markdown element, the decision's words (who, when), and Approve / Reject through `services.versions.set_review`.

Colours are picked for the dark theme (`.streamlit/config.toml`): light text on a tinted pill, and the same hue as
the thumbnail's edge, so a row of cards reads at a glance: green approved, red rejected, amber pending.
"""

from __future__ import annotations

import html
from datetime import datetime

import streamlit as st

from services.enums import ReviewState
from services.errors import ReshootError
from services.identity import Role
from services.read_models.heroes import HeroTarget, ShotPublic
from services.read_models.versions import VersionPublic
from services.versions import ReviewDecisionOptions, set_review
from ui.hero_state import card_key, renew_key, renewable_key
from ui.permissions import lacks, why_disabled
from ui.toasts import queue_toast

# state -> (word, colour on the dark theme, symbol)
STATE_LOOK = {
    ReviewState.approved: ("Approved", "#4ade80", "✓"),
    ReviewState.rejected: ("Rejected", "#f87171", "✗"),
    ReviewState.pending: ("Pending", "#fbbf24", "•"),
}
NO_IMAGE_LOOK = ("No image", "#94a3b8", "–")


def review_state(row: HeroTarget) -> ReviewState | None:
    """Approved / rejected / pending, or None while the size has no image."""
    if not row.version_id:
        return None
    return ReviewState(row.review_state or ReviewState.pending)


def look(row: HeroTarget) -> tuple[str, str, str]:
    state = review_state(row)
    return STATE_LOOK[state] if state else NO_IMAGE_LOOK


def when_text(value: str | datetime | None, *, short: bool = False) -> str:
    """`2026-12-01 14:03 UTC` (`12-01 14:03` when short) from an ISO time or a datetime."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    text = text.replace("T", " ")
    return text[5:16] if short else text[:16] + " UTC"


def decision_words(row: HeroTarget, *, short: bool = False) -> str:
    """`Approved by Ana · 2026-12-01 14:03 UTC` (short: `Ana · 12-01 14:03`), `Pending review`, `No image yet`."""
    state = review_state(row)
    if state is None:
        return "No image yet"
    if state is ReviewState.pending:
        return "Pending review"
    word = STATE_LOOK[state][0]
    if not row.reviewer:
        return word
    when = when_text(row.reviewed_at, short=short)
    if short:  # a compact card: its colour and symbol say the word
        return " · ".join(part for part in (row.reviewer, when) if part)
    return f"{word} by {row.reviewer}" + (f" · {when}" if when else "")


def badges_html(shot: ShotPublic, shown_size: str) -> str:
    """One pill per size (`D ✓`, `T •`, `M ✗`), the shown size outlined; each says its decision in a tooltip."""
    letters = {row.size_label: row.size_label[:1].upper() for row in shot.rows}
    if len(set(letters.values())) < len(letters):  # sizes that share a first letter are spelled out
        letters = {label: label for label in letters}
    pills = []
    for row in shot.rows:
        _word, colour, symbol = look(row)
        shown = row.size_label == shown_size
        tip = f"{row.size_label}: {decision_words(row)}"
        pills.append(
            f'<span title="{html.escape(tip, quote=True)}" aria-label="{html.escape(tip, quote=True)}" '
            f'style="display:inline-block;padding:0 5px;border-radius:9px;font-size:.72rem;line-height:1.35rem;'
            f"font-weight:600;color:{colour};background:rgba(15,23,42,.82);"
            f'border:1px solid {colour if shown else "transparent"}">'
            f"{html.escape(letters[row.size_label])} {symbol}</span>"
        )
    return f'<div style="position:absolute;top:4px;left:4px;display:flex;gap:3px">{"".join(pills)}</div>'


def status_line_html(row: HeroTarget, *, short: bool, style: str) -> str:
    """The shown size's decision in its colour: `● Approved by Ana · 2026-12-01 14:03 UTC`."""
    _word, colour, symbol = look(row)
    words = html.escape(decision_words(row, short=short))
    return (
        f'<div style="{style};color:{colour};white-space:nowrap;overflow:hidden;text-overflow:ellipsis" '
        f'title="{words}">{symbol} {words}</div>'
    )


def _patch_card(work_item_id: str, shot_id: str, version: VersionPublic) -> None:
    """Put the new decision into the card's shot, so the card shows it in this rerun without reading the grid."""
    key = card_key("shot", work_item_id, shot_id)
    shot: ShotPublic | None = st.session_state.get(key)
    if shot is None:
        return
    decided = {
        "review_state": version.review_state,
        "reviewer": version.reviewer,
        "reviewed_at": version.model_dump(mode="json")["reviewedAt"],  # a hero target has it as ISO text
    }
    rows = [row.model_copy(update=decided) if row.version_id == version.id else row for row in shot.rows]
    st.session_state[key] = shot.model_copy(update={"rows": rows})


def decide(work_item_id: str, shot_id: str, row: HeroTarget, state: ReviewState, note_key: str | None = None) -> None:
    """Record the signed-in person's decision on the row's current version (with the note typed, if any)."""
    note = (st.session_state.get(note_key) or "").strip() if note_key else ""
    try:
        version = set_review(
            version_id=int(row.version_id or 0), options=ReviewDecisionOptions(state=state, note=note or None)
        )
    except ReshootError as e:
        queue_toast("Couldn’t save the review", e.message or e.code, kind="error")
        return
    if note_key:
        st.session_state[note_key] = ""  # an empty value clears the box (a deleted key keeps the browser's text)
    for popover in ("reject_open", "menu"):  # the popover the decision was made in closes
        renew_key(popover, work_item_id, shot_id)
    _patch_card(work_item_id, shot_id, version)
    queue_toast(
        f"{shot_id} · {row.size_label} {STATE_LOOK[state][0].lower()}",
        f"v{version.version}" + (f" · “{note}”" if note else ""),
    )


def card_note_key(work_item_id: str, shot_id: str, size_label: str) -> str:
    """The reject note of one size of a card's shot: a note typed for a size goes only with that size's decision."""
    return card_key(f"note_{size_label}", work_item_id, shot_id)


def review_buttons(work_item_id: str, shot_id: str, row: HeroTarget, *, in_menu: bool = False) -> None:
    """Approve (one click) and Reject (a small popover with an optional note) for the shown size; in the compact
    card's menu, a note box and both buttons."""
    state = review_state(row)
    cannot = why_disabled(Role.reviewer) if lacks(Role.reviewer) else ("No image to review yet" if not state else None)
    label = row.size_label
    note_key = card_note_key(work_item_id, shot_id, row.size_label)
    if in_menu:
        st.text_input(
            f"Note on {label}",
            key=note_key,
            persist_state="page",  # kept while the menu is closed
            placeholder=f"Optional note on {label}",
            disabled=bool(cannot),
            max_chars=500,
            label_visibility="collapsed",
        )
    with st.container(horizontal=True, gap="xsmall"):
        st.button(
            "Approve",
            icon=":material/check:",
            key=card_key("approve", work_item_id, shot_id),
            disabled=bool(cannot) or state is ReviewState.approved,
            help=cannot or f"Approve the {label} hero" + (" (it is approved)" if state is ReviewState.approved else ""),
            on_click=decide,
            args=(work_item_id, shot_id, row, ReviewState.approved, note_key if in_menu else None),
            width="stretch",
        )
        if in_menu:
            st.button(
                "Reject",
                icon=":material/close:",
                key=card_key("reject", work_item_id, shot_id),
                disabled=bool(cannot) or state is ReviewState.rejected,
                help=cannot or f"Reject the {label} hero with the note above",
                on_click=decide,
                args=(work_item_id, shot_id, row, ReviewState.rejected, note_key),
                width="stretch",
            )
            return
        popover = st.popover(
            "Reject",
            icon=":material/close:",
            key=renewable_key("reject_open", work_item_id, shot_id),
            on_change="rerun",  # tracks open/closed: its note box exists only while open
            disabled=bool(cannot) or state is ReviewState.rejected,
            help=cannot or f"Reject the {label} hero, with an optional note",
            width="stretch",
        )
        if popover.open:
            popover.text_input(
                f"Note on {label}",
                key=note_key,
                persist_state="page",  # kept while the popover is closed
                placeholder="Optional: what is wrong",
                max_chars=500,
            )
            popover.button(
                "Reject",
                type="primary",
                icon=":material/close:",
                key=card_key("reject", work_item_id, shot_id),
                on_click=decide,
                args=(work_item_id, shot_id, row, ReviewState.rejected, note_key),
                width="stretch",
            )
