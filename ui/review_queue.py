"""The Review queue's parts: its filter, where the reviewer is in it, the hero shown large, and the decisions.

Where the reviewer is: `queue_cursor`, the place (creation time, version id) of the hero on screen. Each run reads
the queue from that place on (two heroes: this one and the next) and the one just before it, so a run costs the
same few queries with 10 or 100,000 pending. A decision leaves the cursor where it is: the decided hero is no
longer pending, so the next run shows the one after it. "n of m reviewed": n counts the decisions made here since
the filter was set; m is what was pending then (counted once, at that moment), recounted when the queue runs out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import streamlit as st

from services.backends import BACKEND_NAMES
from services.enums import ReviewState
from services.errors import ReshootError
from services.identity import Role
from services.read_models.review_queue import QueueCursor, QueuedHero, ReviewQueueFilter
from services.versions import (
    ReviewDecisionOptions,
    hero_size_labels,
    review_queue,
    review_queue_count,
    set_review,
)
from ui.compare import compare_with_previous
from ui.images import absolute_url, placeholder
from ui.navigation import WORK_ITEM_PAGE, query_param
from ui.permissions import lacks, why_disabled
from ui.seeds import seed_words
from ui.toasts import escape_markdown, queue_toast

ANY = "Any"
IMAGE_MAX_HEIGHT = 560  # px: a portrait (Mobile) hero is drawn this high at most, so its buttons stay in view


def queue_key(name: str) -> str:
    """The Review queue's widget and state keys: `work_item`, `sku`, `size`, `backend`, `approve`, …"""
    return f"queue_{name}"


def note_key(version_id: int) -> str:
    """The note box of one hero: a note typed for a hero goes only with that hero's decision."""
    return queue_key(f"note_{version_id}")


_CURSOR, _FILTER, _DECIDED, _STARTED = (queue_key(name) for name in ("cursor", "filter", "decided", "started"))


def queue_filter() -> ReviewQueueFilter:
    """The filter row (work item, SKU, size, backend); `?work_item=7` presets the work item."""
    if queue_key("work_item") not in st.session_state:
        st.session_state[queue_key("work_item")] = query_param("work_item") or ""
    item_col, sku_col, size_col, backend_col = st.columns([1, 1, 1, 1])
    work_item = item_col.text_input("Work item", key=queue_key("work_item"), placeholder="Any work item id")
    sku = sku_col.text_input("SKU", key=queue_key("sku"), placeholder="Any SKU")
    size = size_col.selectbox("Size", [ANY, *hero_size_labels()], key=queue_key("size"))
    backend = backend_col.selectbox("Backend", [ANY, *BACKEND_NAMES], key=queue_key("backend"))
    st.query_params.update(work_item=work_item.strip()) if work_item.strip() else st.query_params.pop("work_item", None)
    return ReviewQueueFilter(
        work_item_id=work_item,
        sku=sku,
        size_label=None if size == ANY else size,
        backend=None if backend == ANY else backend,
    )


def start_session(only: ReviewQueueFilter) -> None:
    """A new filter (or the first visit) starts a new review session: from the oldest, nothing decided yet."""
    if st.session_state.get(_FILTER) == only:
        return
    st.session_state[_FILTER] = only
    st.session_state[_CURSOR] = None
    st.session_state[_DECIDED] = []
    st.session_state[_STARTED] = review_queue_count(only=only)


def _cursor() -> QueueCursor | None:
    return st.session_state.get(_CURSOR)


def current_and_neighbours(only: ReviewQueueFilter) -> tuple[QueuedHero | None, QueuedHero | None, bool]:
    """(the hero to show, the one after it, whether one comes before it). Past the end, back to the oldest
    pending hero (the ones skipped with →)."""
    cursor = _cursor()
    found = review_queue(only=only, start=cursor, limit=2)
    if not found and cursor is not None:
        found = review_queue(only=only, limit=2)
    if not found:
        return None, None, False
    st.session_state[_CURSOR] = found[0].cursor
    has_previous = bool(review_queue(only=only, before=found[0].cursor, limit=1))
    return found[0], found[1] if len(found) > 1 else None, has_previous


def progress(remaining_empty: bool) -> None:
    decided = len(st.session_state.get(_DECIDED, []))
    if remaining_empty:
        st.session_state[_STARTED] = decided  # the queue ran out: everything there was is reviewed
    total = max(st.session_state.get(_STARTED, 0), decided)
    st.progress(decided / total if total else 1.0, text=f"{decided} of {total} reviewed")


# ← and → step from where the cursor is when the key arrives, not from the hero drawn: a second → pressed while the
# first one's run is still drawing moves on again.
def _go_next(only: ReviewQueueFilter) -> None:
    here = _cursor()
    found = review_queue(only=only, start=here, limit=2) if here else []
    if len(found) > 1:
        st.session_state[_CURSOR] = found[1].cursor


def _go_back(only: ReviewQueueFilter) -> None:
    here = _cursor()
    before = review_queue(only=only, before=here, limit=1) if here else []
    if before:
        st.session_state[_CURSOR] = before[0].cursor


def _decide(hero: QueuedHero, state: ReviewState) -> None:
    note = (st.session_state.get(note_key(hero.version_id)) or "").strip() or None
    try:
        set_review(version_id=hero.version_id, options=ReviewDecisionOptions(state=state, note=note))
    except ReshootError as e:
        queue_toast("Couldn’t save the review", e.message or e.code, kind="error")
        return
    st.session_state[_DECIDED] = [*st.session_state.get(_DECIDED, []), hero.version_id]
    st.session_state[note_key(hero.version_id)] = ""


def _when(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC"


def hero_heading(hero: QueuedHero) -> None:
    """Work item (a link to the hero on its page), shot, SKU, size and version, across the page."""
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        st.page_link(
            WORK_ITEM_PAGE,
            label=f"{hero.work_item_title} ({hero.work_item_id})",
            icon=":material/open_in_new:",
            query_params={"id": hero.work_item_id, "shot": hero.shot_id, "size": hero.size_label},
            width="content",
        )
        st.markdown(
            f"**{escape_markdown(hero.shot_id)}** · SKU {escape_markdown(hero.sku)} · "
            f"{escape_markdown(hero.size_label)} {hero.width}×{hero.height} · v{hero.version}",
            width="content",
        )


def hero_details(hero: QueuedHero) -> None:
    """How it was made (backend, model, seed, when, references) and the prompt it was made from."""
    made = " · ".join(
        part
        for part in (
            escape_markdown(hero.backend) + (f" ({escape_markdown(hero.model)})" if hero.model else ""),
            seed_words(hero.seed, hero.seed_honoured),
            f"made {_when(hero.created_at)}",
            f"{len(hero.references)} reference image{'s' if len(hero.references) != 1 else ''}"
            if hero.references
            else "",
        )
        if part
    )
    st.caption(made)
    with st.container(border=True, gap="xsmall"):
        st.caption("Prompt")
        st.markdown(escape_markdown(hero.prompt) if hero.prompt else "_No prompt recorded_")


@st.dialog("Compare with the previous version", width="large")
def compare_dialog(hero: QueuedHero) -> None:
    compare_with_previous(hero, key=queue_key("compare_mode"), current_label=f"v{hero.version} (in review)")


def hero_image(hero: QueuedHero) -> None:
    ratio = hero.width / hero.height
    width: Literal["stretch"] | int = "stretch" if ratio >= 1.6 else int(IMAGE_MAX_HEIGHT * ratio)  # fits the screen
    url = absolute_url(hero.url)
    if url:
        st.image(url, width=width, caption=hero.filename)
    else:
        placeholder(hero.filename, height=240, text=f"{hero.filename} (file removed)")


def decision_buttons(only: ReviewQueueFilter, hero: QueuedHero, after: QueuedHero | None, has_previous: bool) -> None:
    """The note, Approve (A), Reject (X), ← previous, → next."""
    reviewer_help = why_disabled(Role.reviewer)
    not_reviewer = lacks(Role.reviewer)
    st.text_input(
        "Note",
        key=note_key(hero.version_id),
        persist_state="page",  # a note not sent waits in its hero's box
        placeholder="Optional note",
        help="Type, then Tab out of the box: the keys work when no text box has the focus.",
    )
    with st.container(horizontal=True, gap="small"):  # wraps where the column is narrow
        st.button(
            "Approve",
            key=queue_key("approve"),
            type="primary",
            icon=":material/check:",
            shortcut="A",
            disabled=not_reviewer,
            help=reviewer_help,
            on_click=_decide,
            args=(hero, ReviewState.approved),
        )
        st.button(
            "Reject",
            key=queue_key("reject"),
            icon=":material/close:",
            shortcut="X",
            disabled=not_reviewer,
            help=reviewer_help,
            on_click=_decide,
            args=(hero, ReviewState.rejected),
        )
        if st.button(
            "Compare",
            key=queue_key("compare"),
            icon=":material/compare:",
            shortcut="V",
            disabled=hero.previous_version_id is None,
            help="With the previous version of this hero" if hero.previous_version_id else "No earlier version kept",
        ):
            compare_dialog(hero)
        st.button(
            "Previous",
            key=queue_key("previous"),
            icon=":material/arrow_back:",
            shortcut="Left",
            disabled=not has_previous,
            on_click=_go_back,
            args=(only,),
        )
        st.button(
            "Next",
            key=queue_key("next"),
            icon=":material/arrow_forward:",
            shortcut="Right",
            disabled=after is None,
            on_click=_go_next,
            args=(only,),
        )
