"""The large view of a hero (a dialog over the grid), a review station: one size of one shot, full size or at 100 %
(scrollable), with its prompt, seed, backend, model, references used and version; Approve (`A`) / Reject (`X`, with
an optional note), compare with the previous version (`V`), previous / next shot (←/→, across grid pages) and size
(↑/↓) without closing it. The address bar (`?shot=&size=`) follows the open shot and size, so a link opens it again.

The dialog runs as a fragment: a key press reruns only the dialog. Which shot it shows is kept in session state (the
dialog's arguments are those it was opened with); a shot from another grid page is read on its own (one
`get_work_item` page of one shot).
"""

from __future__ import annotations

import html
from functools import partial

import streamlit as st

from services.audit import hero_history
from services.enums import ReviewState
from services.errors import ReshootError
from services.identity import Role
from services.lifestyle import list_references
from services.read_models.heroes import HeroTarget, ShotPublic, WorkItemDetail
from services.read_models.versions import VersionPublic
from services.versions import get_version
from services.work_items import get_work_item
from ui.activity import RECENT_SHOWN, recent_changes
from ui.card_review import decide, decision_words, look, review_state
from ui.compare import compare_with_previous
from ui.file_metadata import file_metadata_expander
from ui.hero_prompt import hero_versions, load_card_notes
from ui.hero_state import card_key, img_tag, picked_row, renew_key, renewable_key, size_switch
from ui.images import image_or_placeholder
from ui.permissions import lacks, why_disabled
from ui.review_thread import review_thread
from ui.seeds import seed_words
from ui.shared_models import shared_shot
from ui.toasts import escape_markdown

LARGE_VIEW_MAX_HEIGHT = 400  # px; with the keys and the decision row, within a 1024×768 window
ZOOM_MAX_HEIGHT = "52vh"  # the 100 % view scrolls inside this
PROMPT_SHOWN = 600  # characters; the whole prompt is in the file metadata


def large_view_key(name: str, owner: str) -> str:
    """The large view's widget and state keys: `previous`, `next`, `size_up`, `size_down`, `approve`, … of a
    work item (`owner` its id); `compare_mode` of a target row (`owner` the row's id)."""
    return f"detail_lv_{name}_{owner}"


def large_view_note_key(work_item_id: str, shot_id: str, size_label: str) -> str:
    """The note box of one hero (a shot's size) in the large view: a note typed for it goes only with its decision."""
    return large_view_key("note", f"{work_item_id}/{shot_id}/{size_label}")


def grid_shots(item: WorkItemDetail) -> None:
    """What the large view navigates: every shot id of the work item in grid order, and those of the grid page
    (whose cards hold their shot); call where the grid reads its page."""
    st.session_state[large_view_key("shot_ids", item.id)] = item.shot_ids  # read only: shared with the item
    st.session_state[large_view_key("page_shots", item.id)] = [shot.shot_id for shot in item.shots]


def close_large_view() -> None:
    """The large view was dismissed: the address bar no longer names its shot and size."""
    for name in ("shot", "size"):
        st.query_params.pop(name, None)


def show_large_view(work_item_id: str, shot_id: str) -> None:
    """Open the large view at `shot_id` (at the size in `?size=`, else the card's)."""
    st.session_state[large_view_key("shot", work_item_id)] = shot_id
    large_view(work_item_id, shot_id)


def open_linked_large_view(item: WorkItemDetail) -> None:
    """`?shot=OL-2&size=Mobile` (a link someone sent): open that shot's large view (call after the grid)."""
    shot_id = st.query_params.get("shot")
    if not shot_id:
        return
    opened_by_card = st.session_state.get(card_key("view", item.id, shot_id))  # its View larger, in this run
    if not opened_by_card and any(shot.shot_id == shot_id for shot in item.shots):
        show_large_view(item.id, shot_id)


def _shot_ids(work_item_id: str) -> list[str]:
    return st.session_state.get(large_view_key("shot_ids", work_item_id)) or []


def _shot(work_item_id: str, shot_id: str) -> ShotPublic | None:
    """The shot as its card holds it; a shot of another grid page is read (once per visit) and kept the same way."""
    key = card_key("shot", work_item_id, shot_id)
    if key not in st.session_state:
        ids = _shot_ids(work_item_id)
        if shot_id not in ids:
            return None
        found = get_work_item(work_item_id, shot_offset=ids.index(shot_id), shot_limit=1).shots
        if not found or found[0].shot_id != shot_id:
            return None
        st.session_state[key] = shared_shot(work_item_id, found[0])
    return st.session_state[key]


def _shown(work_item_id: str) -> tuple[ShotPublic, HeroTarget] | None:
    """The shot and size the view is at now, as the keys left it (read in callbacks, not from what was drawn: a key
    pressed again before the last press's run has drawn acts on where that press went, not on the screen's state)."""
    shot_id = st.session_state.get(large_view_key("shot", work_item_id))
    shot = _shot(work_item_id, shot_id) if shot_id else None
    row = picked_row(work_item_id, shot, key_name="dialog_size") if shot else None
    return (shot, row) if shot and row else None


def _step_shot(work_item_id: str, step: int) -> None:
    """← / →: the previous or next shot in grid order, at the same size (if it has one), read afresh unless its card
    is on the page."""
    ids, shown = _shot_ids(work_item_id), _shown(work_item_id)
    if shown is None or shown[0].shot_id not in ids:
        return
    at = ids.index(shown[0].shot_id) + step
    if not 0 <= at < len(ids):
        return
    shot_id = ids[at]
    st.session_state[large_view_key("shot", work_item_id)] = shot_id
    if shot_id not in (st.session_state.get(large_view_key("page_shots", work_item_id)) or []):
        st.session_state.pop(card_key("shot", work_item_id, shot_id), None)
    _set_size(work_item_id, shot_id, shown[1].size_label)


def _step_size(work_item_id: str, step: int) -> None:
    """↑ / ↓: the previous or next size of the same shot."""
    shown = _shown(work_item_id)
    if shown is None:
        return
    shot, row = shown
    labels = [r.size_label for r in shot.rows]
    at = min(max(labels.index(row.size_label) + step, 0), len(labels) - 1)
    _set_size(work_item_id, shot.shot_id, labels[at])


def _set_size(work_item_id: str, shot_id: str, size_label: str) -> None:
    st.session_state[card_key("dialog_size", work_item_id, shot_id)] = size_label
    renew_key("dialog_size_switch", work_item_id, shot_id)  # see renewable_key
    st.query_params.update(shot=shot_id, size=size_label)


def _decide_shown(work_item_id: str, state: ReviewState) -> None:
    """A / X: the decision on the shot and size the view is at now, with their note."""
    shown = _shown(work_item_id)
    if shown is not None:
        shot_id, row = shown[0].shot_id, shown[1]
        decide(work_item_id, shot_id, row, state, large_view_note_key(work_item_id, shot_id, row.size_label))


def _size_picked(work_item_id: str, shot_id: str, switch_key: str) -> None:
    st.session_state[card_key("dialog_size", work_item_id, shot_id)] = st.session_state.get(switch_key)


def _toggle(key: str) -> None:
    st.session_state[key] = not st.session_state.get(key, False)


@st.dialog("Lifestyle hero", width="large", on_dismiss=close_large_view)
def large_view(work_item_id: str, shot_id: str) -> None:
    """The review station (see the module's docstring)."""
    shot_id = st.session_state.get(large_view_key("shot", work_item_id)) or shot_id
    shot = _shot(work_item_id, shot_id)
    if shot is None:
        st.warning(f"{escape_markdown(shot_id)} is no longer in this work item.")
        return
    if not shot.rows:
        st.caption(f"{escape_markdown(shot_id)} has no export sizes.")
        return
    size_key = card_key("dialog_size", work_item_id, shot_id)
    if size_key not in st.session_state:  # opened: at the linked size, else at the card's
        linked = st.query_params.get("size") or st.session_state.get(card_key("size", work_item_id, shot_id))
        st.session_state[size_key] = linked if linked in [r.size_label for r in shot.rows] else shot.rows[0].size_label
    row = picked_row(work_item_id, shot, key_name="dialog_size")
    assert row is not None  # the shot has rows
    st.query_params.update(shot=shot_id, size=row.size_label)

    _navigation(work_item_id, shot, row)
    switch_key = renewable_key("dialog_size_switch", work_item_id, shot_id)
    size_switch(
        shot, key=switch_key, default=row.size_label, on_change=partial(_size_picked, work_item_id, shot_id, switch_key)
    )
    _picture(work_item_id, row)
    _review(work_item_id, shot_id, row)
    version = _details(work_item_id, shot, row)
    if version is not None and version.references:
        _references_used(work_item_id, shot_id, version.references)
    recent_changes(hero_history(work_item_id, shot_id, row.size_label, limit=RECENT_SHOWN))
    review_thread(
        row.version_id,
        key=card_key(f"thread_{row.size_label}", work_item_id, shot_id),
        with_summary=True,
        on_comment=partial(load_card_notes, work_item_id, [shot_id]),  # the card's comment count
    )
    hero_versions(work_item_id, shot_id, row)
    file_metadata_expander(row.version_id, key=card_key("file_metadata", work_item_id, shot_id))


def _navigation(work_item_id: str, shot: ShotPublic, row: HeroTarget) -> None:
    """`KT-2 · KIT-KNIFE-SET-5 · shot 2 of 3` and the keys: ← → shots, ↑ ↓ sizes, Z 100 %, V compare."""
    ids = _shot_ids(work_item_id)
    at = ids.index(shot.shot_id) if shot.shot_id in ids else -1
    labels = [r.size_label for r in shot.rows]
    size_at = labels.index(row.size_label)
    place = f" · shot {at + 1} of {len(ids)}" if at >= 0 else ""
    st.markdown(f"**{escape_markdown(shot.shot_id)}** · {escape_markdown(shot.sku)}{place}")
    zoom_key, compare_key = large_view_key("zoom", work_item_id), large_view_key("compare", work_item_id)
    with st.container(horizontal=True, gap="small", vertical_alignment="center"):
        st.button(
            "Previous shot",
            icon=":material/arrow_back:",
            shortcut="Left",
            key=large_view_key("previous", work_item_id),
            disabled=at <= 0,
            on_click=_step_shot,
            args=(work_item_id, -1),
        )
        st.button(
            "Next shot",
            icon=":material/arrow_forward:",
            shortcut="Right",
            key=large_view_key("next", work_item_id),
            disabled=not 0 <= at < len(ids) - 1,
            on_click=_step_shot,
            args=(work_item_id, 1),
        )
        st.button(
            "Previous size",
            icon=":material/arrow_upward:",
            shortcut="Up",
            key=large_view_key("size_up", work_item_id),
            disabled=size_at == 0,
            on_click=_step_size,
            args=(work_item_id, -1),
        )
        st.button(
            "Next size",
            icon=":material/arrow_downward:",
            shortcut="Down",
            key=large_view_key("size_down", work_item_id),
            disabled=size_at == len(labels) - 1,
            on_click=_step_size,
            args=(work_item_id, 1),
        )
        zoomed = st.session_state.get(zoom_key, False)
        st.button(
            "Fit to window" if zoomed else "100 %",
            icon=":material/fit_screen:" if zoomed else ":material/zoom_in:",
            shortcut="Z",
            key=large_view_key("zoom_button", work_item_id),
            help="The image at its natural size, in a scrollable frame" if not zoomed else None,
            disabled=not row.url,
            on_click=_toggle,
            args=(zoom_key,),
        )
        comparing = st.session_state.get(compare_key, False)
        st.button(
            "Stop comparing" if comparing else "Compare",
            icon=":material/compare:",
            shortcut="V",
            key=large_view_key("compare_button", work_item_id),
            help=f"v{(row.version or 1) - 1} beside v{row.version}"
            if row.previous_version_id
            else "No earlier version",
            disabled=not row.previous_version_id and not comparing,
            on_click=_toggle,
            args=(compare_key,),
        )


def _picture(work_item_id: str, row: HeroTarget) -> None:
    """Fitted to the window, at 100 % in a scrollable frame, or beside the previous version."""
    if st.session_state.get(large_view_key("compare", work_item_id)) and row.previous_version_id:
        if compare_with_previous(row, key=large_view_key("compare_mode", str(row.id))):
            return
        st.caption("The previous version's file is no longer stored.")
    if st.session_state.get(large_view_key("zoom", work_item_id)) and row.url:
        st.markdown(zoomed_html(row), unsafe_allow_html=True)
        return
    # At most LARGE_VIEW_MAX_HEIGHT tall (narrower than the dialog if need be): the decision row stays on screen.
    image_or_placeholder(row.url, row.filename, width=int(LARGE_VIEW_MAX_HEIGHT * row.width / row.height), height=300)


def zoomed_html(row: HeroTarget) -> str:
    """The image at its natural size (one image pixel per CSS pixel) in a frame that scrolls both ways."""
    picture = img_tag(row.url, f"{row.size_label} hero at 100 %", "display:block;max-width:none;max-height:none")
    picture = picture.replace("<img ", f'<img width="{row.width}" height="{row.height}" ', 1)
    return (
        f'<div style="overflow:auto;max-height:{ZOOM_MAX_HEIGHT};border-radius:6px;'
        f'background:rgba(127,127,127,.08)" tabindex="0" aria-label="{html.escape(row.filename, quote=True)} at 100 %">'
        f"{picture}</div>"
    )


def _review(work_item_id: str, shot_id: str, row: HeroTarget) -> None:
    """The shown size's decision (who, when) in its colour, its note, Approve (A) and Reject (X)."""
    state = review_state(row)
    _word, colour, symbol = look(row)
    cannot = why_disabled(Role.reviewer) if lacks(Role.reviewer) else ("No image to review yet" if not state else None)
    with st.container(horizontal=True, gap="small", vertical_alignment="center"):
        st.markdown(
            f'<span style="color:{colour};font-weight:600">{symbol} {html.escape(decision_words(row))}</span>',
            unsafe_allow_html=True,
            width="content",
        )
        st.text_input(
            "Note",
            key=large_view_note_key(work_item_id, shot_id, row.size_label),
            persist_state="page",  # a note not sent waits in its hero's box
            placeholder="Optional note, saved with the decision",
            help="Type, then Tab out of the box: the keys work when no text box has the focus.",
            label_visibility="collapsed",
            disabled=bool(cannot),
            max_chars=500,
            width=320,
        )
        st.button(
            "Approve",
            type="primary",
            icon=":material/check:",
            shortcut="A",
            key=large_view_key("approve", work_item_id),
            disabled=bool(cannot) or state is ReviewState.approved,
            help=cannot or ("It is approved" if state is ReviewState.approved else None),
            on_click=_decide_shown,
            args=(work_item_id, ReviewState.approved),
        )
        st.button(
            "Reject",
            icon=":material/close:",
            shortcut="X",
            key=large_view_key("reject", work_item_id),
            disabled=bool(cannot) or state is ReviewState.rejected,
            help=cannot or ("It is rejected" if state is ReviewState.rejected else None),
            on_click=_decide_shown,
            args=(work_item_id, ReviewState.rejected),
        )


def _details(work_item_id: str, shot: ShotPublic, row: HeroTarget) -> VersionPublic | None:
    """`KT-2 · KIT-KNIFE-SET-5 · Desktop 1920×800 · seed 42`, then `v3 · local (model) · made …`, the file name and
    the prompt the version was made from."""
    seed = seed_words(row.seed, row.seed_honoured)
    what = (
        f"{escape_markdown(shot.shot_id)} · {escape_markdown(shot.sku)} · "
        f"{escape_markdown(row.size_label)} {row.width}×{row.height}" + (f" · {seed}" if seed else "")
    )
    if row.version_id is None:
        st.caption(f"{what}  \nNo image yet · {escape_markdown(row.filename)}")
        return None
    try:
        version = get_version(row.version_id)
    except ReshootError:
        version = None
    made = [f"v{row.version}"]
    backend = (version.backend if version else None) or row.backend
    model = version.model if version else None
    if backend:
        made.append(escape_markdown(backend) + (f" ({escape_markdown(model)})" if model else ""))
    if version:
        made.append(f"made {version.created_at:%Y-%m-%d %H:%M} UTC")
    st.caption(what)
    st.caption(f"{' · '.join(made)} · {escape_markdown(row.filename)}")
    prompt = (version.prompt if version else "").strip()
    with st.container(border=True, gap="xsmall"):
        st.caption("Prompt this version was made from")
        shown = prompt[:PROMPT_SHOWN] + ("…" if len(prompt) > PROMPT_SHOWN else "")
        st.markdown(escape_markdown(shown) if shown else "_No prompt recorded_")
    return version


def _references_used(work_item_id: str, shot_id: str, reference_ids: list[str]) -> None:
    """The reference images sent with the prompt for this version (those since deleted are counted)."""
    refs = {ref.id: ref for ref in list_references(work_item_id, shot_id)}
    kept = [refs[r] for r in reference_ids if r in refs]
    gone = len(reference_ids) - len(kept)
    pictures = "".join(
        img_tag(
            ref.thumb_url or ref.url,
            f"reference {ref.original_filename or ref.filename}",
            "width:48px;height:48px;object-fit:cover;border-radius:4px",
        ).replace("<img ", f'<img title="{html.escape(ref.original_filename or ref.filename, quote=True)}" ', 1)
        for ref in kept
    )
    words = f"{len(reference_ids)} reference image{'s' if len(reference_ids) != 1 else ''} used" + (
        f" ({gone} since deleted)" if gone else ""
    )
    st.markdown(
        f'<div style="font-size:.875rem;opacity:.75;margin-bottom:4px">{html.escape(words)}</div>'
        f'<div style="display:flex;gap:6px;flex-wrap:wrap">{pictures}</div>',
        unsafe_allow_html=True,
    )
