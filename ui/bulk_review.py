"""Bulk decisions on the work item page: a bar above the hero grid that approves, rejects (with one note) or
regenerates, as one job, the shots picked with the cards' Select boxes, every pending hero of the work item, or
every pending hero of one SKU; and a link to the Review queue for the work item.

Selecting a card reruns the page once (a card is a fragment; the bar above it counts the selection). The selected
shots' current images are the ones the cards were handed in this run (every size of the shot), so the bar reads
no database for them.
"""

from __future__ import annotations

from typing import Literal

import streamlit as st

from services.errors import ReshootError
from services.identity import Role
from services.lifestyle import GenerateHeroesOptions, start_heroes_job
from services.messages import plural
from services.read_models.heroes import ShotPublic, WorkItemDetail
from services.read_models.review_queue import ReviewQueueFilter
from services.versions import decide_many, review_queue_count
from services.work_items import shots_by_sku
from ui.hero_prompt import rejected_in_selection
from ui.hero_state import card_key
from ui.navigation import REVIEW_QUEUE_PAGE
from ui.permissions import lacks, why_disabled
from ui.toasts import escape_markdown, queue_toast

SELECTED, ALL_PENDING, SKU_PENDING = "selected", "all", "sku"
NO_SKU = "—"


def heroes(count: int) -> str:
    return f"{count} hero" if count == 1 else f"{count} heroes"


def select_key(work_item_id: str, shot_id: str) -> str:
    return card_key("select", work_item_id, shot_id)


def _changed_key(work_item_id: str, shot_id: str) -> str:
    return card_key("select_changed", work_item_id, shot_id)


def _selection_changed(work_item_id: str, shot_id: str) -> None:
    st.session_state[_changed_key(work_item_id, shot_id)] = True


def select_box(work_item_id: str, shot_id: str) -> None:
    """The card's Select box (call inside the card). A change reruns the whole page, so the bar counts it."""
    st.checkbox(
        "Select",
        key=select_key(work_item_id, shot_id),
        on_change=_selection_changed,
        args=(work_item_id, shot_id),
    )
    if st.session_state.pop(_changed_key(work_item_id, shot_id), False):
        st.rerun()


def selected_shots(item: WorkItemDetail) -> list[ShotPublic]:
    """The grid page's shots whose Select box is ticked, in grid order."""
    return [shot for shot in item.shots if st.session_state.get(select_key(item.id, shot.shot_id))]


def _clear_selection(item: WorkItemDetail) -> None:
    for shot in item.shots:
        st.session_state[select_key(item.id, shot.shot_id)] = False


def bulk_key(name: str, work_item_id: str) -> str:
    """The bulk bar's widget keys: `scope`, `sku`, `note`, `approved`/`rejected` and `regenerate` of a work item."""
    return f"detail_bulk_{name}_{work_item_id}"


def _version_ids(shots: list[ShotPublic]) -> list[int]:
    return [row.version_id for shot in shots for row in shot.rows if row.version_id]


def _decide(item: WorkItemDetail, state: str, scope: str, sku: str | None) -> None:
    note_key = bulk_key("note", item.id)
    note = (st.session_state.get(note_key) or "").strip() or None
    try:
        if scope == SELECTED:
            result = decide_many(state=state, note=note, version_ids=_version_ids(selected_shots(item)))
        elif scope == SKU_PENDING:
            result = decide_many(state=state, note=note, work_item_id=item.id, sku=sku)
        else:
            result = decide_many(state=state, note=note, work_item_id=item.id)
    except ReshootError as e:
        queue_toast("Couldn’t save the decisions", e.message or e.code, kind="error")
        return
    verb = "Approved" if state == "approved" else "Rejected"
    queue_toast(f"{verb} {heroes(result.count)}", f"“{note}”" if note else "Every decision is in the history.")
    st.session_state[note_key] = ""
    _clear_selection(item)


def _regenerate(item: WorkItemDetail, shot_ids: list[str]) -> None:
    try:
        started = start_heroes_job(
            work_item_id=item.id, options=GenerateHeroesOptions(shot_ids=shot_ids, overwrite=True)
        )
    except ReshootError as e:
        queue_toast("Couldn’t start the regeneration", e.message or e.code, kind="error")
        return
    queue_toast("Regeneration started", f"{plural(len(shot_ids), 'shot')} in one job ({started.job_id}); cards update.")
    _clear_selection(item)


def bulk_bar(item: WorkItemDetail) -> None:
    """Above the grid: what to act on, the note, Approve / Reject / Regenerate, and `Review pending (n)`."""
    work_item_id = item.id
    pending = review_queue_count(only=ReviewQueueFilter(work_item_id=work_item_id))
    selected = selected_shots(item)
    with st.container(border=True, gap="small"):
        with st.container(horizontal=True, vertical_alignment="bottom", gap="small"):
            scope = st.segmented_control(
                "Bulk review",
                [SELECTED, ALL_PENDING, SKU_PENDING],
                help="Tick Select on the cards below, or choose All pending or a SKU; then decide once for all",
                label_visibility="collapsed",
                default=SELECTED,
                format_func=lambda option: {
                    SELECTED: f"Selected shots ({len(selected)})",
                    ALL_PENDING: f"All pending ({pending})",
                    SKU_PENDING: "Pending of a SKU",
                }[option],
                required=True,
                key=bulk_key("scope", work_item_id),
                width="content",
            )
            sku, sku_shots, sku_pending = None, [], 0
            if scope == SKU_PENDING:
                skus = shots_by_sku(work_item_id)
                sku = st.selectbox("SKU", [NO_SKU, *skus], key=bulk_key("sku", work_item_id), width=220)
                sku = None if sku == NO_SKU else sku
                sku_shots = skus.get(sku, []) if sku else []
                sku_pending = (
                    review_queue_count(only=ReviewQueueFilter(work_item_id=work_item_id, sku=sku)) if sku else 0
                )
            st.page_link(
                REVIEW_QUEUE_PAGE,
                label=f"Review pending ({pending})",
                icon=":material/rule:",
                query_params={"work_item": work_item_id},
                disabled=not pending,
            )
        count = {SELECTED: len(_version_ids(selected)), ALL_PENDING: pending, SKU_PENDING: sku_pending}[scope]
        shot_ids = {SELECTED: [s.shot_id for s in selected], SKU_PENDING: sku_shots}.get(scope, [])
        not_reviewer = lacks(Role.reviewer)
        with st.container(horizontal=True, vertical_alignment="bottom", gap="small"):
            st.text_input(
                "Note",
                key=bulk_key("note", work_item_id),
                placeholder="One note for every decision (optional)",
                label_visibility="collapsed",
                width=320,
            )
            buttons: tuple[tuple[str, str, Literal["primary", "secondary"], str], ...] = (
                ("approved", "Approve", "primary", ":material/check:"),
                ("rejected", "Reject", "secondary", ":material/close:"),
            )
            for state, label, kind, icon in buttons:
                st.button(
                    f"{label} {heroes(count)}",
                    key=bulk_key(state, work_item_id),
                    type=kind,
                    icon=icon,
                    disabled=not count or not_reviewer,
                    help=why_disabled(Role.reviewer, f"{label} the current images of this selection (every size)"),
                    on_click=_decide,
                    args=(item, state, scope, sku),
                )
            st.button(
                f"Regenerate {plural(len(shot_ids), 'shot')}",
                key=bulk_key("regenerate", work_item_id),
                icon=":material/refresh:",
                disabled=not shot_ids or not_reviewer,
                help=why_disabled(
                    Role.reviewer,
                    "Every size of these shots again, as one job, with their references"
                    if scope != ALL_PENDING
                    else "Select shots or pick a SKU to regenerate",
                ),
                on_click=_regenerate,
                args=(item, shot_ids),
            )
        if scope == SKU_PENDING and sku:
            st.caption(f"SKU {escape_markdown(sku)}: {plural(len(sku_shots), 'shot')}, {sku_pending} pending.")
        if shot_ids:  # what the rejecting reviewers said, before these are regenerated
            rejected_in_selection(work_item_id, shot_ids)
