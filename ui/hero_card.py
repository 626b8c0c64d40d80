"""The Lifestyle Hero Preview grid (spec 000): one card per shot, each card its own fragment.

A card shows one size of its shot (Desktop/Tablet/Mobile switch), the shot's references, `Upload reference`
and `Regenerate shot`. Clicks rerun only that card. The page hands each card its shot from the one
`get_work_item()` call of the run (which reads only the grid page's shots); a card reads it back from session
state, so card reruns query nothing unless the card itself changed something.

A run's cost is Streamlit's per element, so the grid shows at most `CARDS_PER_PAGE` cards (the page's cost does
not grow with the shots) and a card keeps its elements few: its thumbnail, texts and rejected notes are one
Markdown element (`card_html`, plain `<img>` tags: no `st.image` per picture), the fragment's own container is the
card's frame (CSS, no bordered container), the file uploader, the prompt editor and the reject note exist only while
their popover is open, and the references dialog is created only when opened.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from functools import lru_cache, partial
from typing import BinaryIO

import streamlit as st
from pydantic import ValidationError
from streamlit.errors import StreamlitAPIException

from services import messages
from services.enums import JobStatus
from services.errors import ReshootError, invalid_from
from services.identity import Role
from services.lifestyle import (
    GenerateHeroesOptions,
    ReferenceUpload,
    add_references,
    delete_reference,
    list_references,
    start_heroes_job,
)
from services.read_models.heroes import HeroTarget, ReferencePublic, ShotPublic, WorkItemDetail
from services.read_models.jobs import JobPublic
from services.work_items import get_work_item
from ui.actions_panel import panel_job
from ui.bulk_review import select_box
from ui.card_review import badges_html, look, review_buttons, status_line_html
from ui.compare import compare_with_previous
from ui.grid_density import is_compact
from ui.hero_prompt import (
    card_notes_html,
    load_card_notes,
    prompt_editor,
    prompt_popover,
    regenerate_help,
    rejected_notes,
    rejected_notes_html,
    use_version_button,
)
from ui.hero_state import (
    REFERENCES_SHOWN,
    card_shot,
    picked_row,
    renew_key,
    renewable_key,
    selected_row,
    size_switch,
)
from ui.hero_state import card_key as _key
from ui.hero_state import img_tag as _img
from ui.images import absolute_url
from ui.job_progress import (
    finish_once,
    hold_and_rerun,
    job_progress,
    own_job_progress,
    rerun_of_one_fragment,
    settle,
    wait_briefly,
)
from ui.large_view import grid_shots, show_large_view
from ui.permissions import lacks, why_disabled
from ui.shared_models import shared_shot
from ui.toasts import escape_markdown, queue_toast, show_queued_toasts, show_toast

ACCEPTED_TYPES = list(ReferenceUpload.ACCEPTED_EXTENSIONS)
THUMB_MAX_HEIGHT = 150  # px; every thumbnail box has this height, so cards stay aligned whatever the aspect
THUMB_CARD_WIDTH = 260  # px; the grid's minimum column width: 3 cards a row at 1440 px, 2 at 1024
COMPACT_THUMB_HEIGHT = 80  # px; a compact card: 6 a row at 1440 px, two rows of them above the fold at 1440×900
COMPACT_CARD_WIDTH = 148  # px; the compact grid's minimum column width
CARDS_PER_PAGE = 12
_CAPTION = "font-size:.875rem;opacity:.65;line-height:1.4"
_SMALL = "font-size:.8rem;line-height:1.4"
# Streamlit pulls a Markdown element's last 1rem up (meant for a paragraph's margin): give it that room back.
_MARKDOWN_END = '<div style="height:1rem"></div>'
_MISSING_ICON = "&#x1F5BC;&#xFE0E;"  # a framed picture: no image yet


def card_selector(key_prefix: str = "") -> str:
    """CSS for the cards (of one work item: `key_prefix` "40_"): a card is its fragment's own container, which has no
    key of its own, so it is the block holding a Select box (bulk review) as a child."""
    return f'[data-testid="stVerticalBlock"]:has(> [class*="st-key-detail_select_{key_prefix}"])'


CARD = card_selector()


def card_job(work_item_id: str, shot_id: str) -> str | None:
    return st.session_state.get(_key("job", work_item_id, shot_id))


def compare_key(name: str, version_or_row_id: int) -> str:
    """The compare view's keys: `mode` of a target row, `use` (Use this version) of the earlier version."""
    return f"detail_compare_{name}_{version_or_row_id}"


def card_fragment_key(work_item_id: str, shot_id: str) -> str:
    return _key("card", work_item_id, shot_id)


def refresh_card_shot(work_item_id: str, shot_id: str) -> None:
    """Re-read this card's shot (after a job for it ended), so a card rerun shows the new image without a full run."""
    offset = st.session_state.get(_key("offset", work_item_id, shot_id))
    shots = get_work_item(work_item_id, shot_offset=offset, shot_limit=1).shots if offset is not None else []
    if not shots or shots[0].shot_id != shot_id:  # the work item's shots changed meanwhile: read the page again
        st.rerun()
    st.session_state[_key("shot", work_item_id, shot_id)] = shared_shot(work_item_id, shots[0])
    load_card_notes(work_item_id, [shot_id])


def _page_key(work_item_id: str) -> str:
    return f"detail_grid_page_{work_item_id}"


def grid_page(work_item_id: str) -> dict[str, int]:
    """`get_work_item()`'s `shot_offset`/`shot_limit` for the grid page picked in the pager (its state, read
    before the pager is drawn below the grid)."""
    page = max(int(st.session_state.get(_page_key(work_item_id)) or 1), 1)
    return {"shot_offset": (page - 1) * CARDS_PER_PAGE, "shot_limit": CARDS_PER_PAGE}


def hero_grid(item: WorkItemDetail) -> None:
    """The grid page's shots as cards; `item` is `get_work_item(..., **grid_page(...))`'s result."""
    total = item.shot_count
    if not total:
        st.info("This work item has no shots in its export plan.")
        return
    if not item.shots:  # the picked page is past the end (shots were removed): show the last one
        st.session_state[_page_key(item.id)] = page_count(total)
        st.rerun()
    first = grid_page(item.id)["shot_offset"]
    load_card_notes(item.id, [shot.shot_id for shot in item.shots])
    grid_shots(item)  # what the large view's ← / → go through
    compact = is_compact()
    st.html(grid_css(compact))
    with st.grid("auto", min_column_width=COMPACT_CARD_WIDTH if compact else THUMB_CARD_WIDTH, gap="small"):
        for index, shot in enumerate(item.shots):
            st.session_state[_key("shot", item.id, shot.shot_id)] = shot
            st.session_state[_key("offset", item.id, shot.shot_id)] = first + index
            st.session_state.pop(_key("stale", item.id, shot.shot_id), None)  # just read
            _card_fragment(card_fragment_key(item.id, shot.shot_id))(item.id, shot.shot_id)
    if total > CARDS_PER_PAGE:
        st.pagination(page_count(total), key=_page_key(item.id), width="stretch")


@lru_cache(maxsize=1024)
def _card_fragment(key: str) -> Callable[[str, str], None]:
    """`hero_card` as the fragment of this key. Made once a key, not every run: `st.fragment` copies the function's
    signature and attributes each time it is called; what a call of the fragment does (its snapshot of the page's
    cursors, its id from where it is called) happens in that call, every run, as before."""
    return st.fragment(hero_card, key=key)


def page_count(total: int) -> int:
    return max(1, -(-total // CARDS_PER_PAGE))


def grid_css(compact: bool) -> str:
    """Once per grid run: each card's frame, its `View larger` button over its thumbnail (the thumbnail is what one
    clicks; the words show on hover or keyboard focus), and compact cards' tighter frame."""
    height = COMPACT_THUMB_HEIGHT if compact else THUMB_MAX_HEIGHT
    view = '[class*="st-key-detail_view_"]'
    select = f'{CARD} [class*="st-key-detail_select_"]'
    compact_css = (
        f"{CARD}{{padding:8px}}"
        f'{CARD} [data-testid="stPopoverButton"]{{padding:0 4px;min-height:32px;gap:0}}'
        f'{CARD} [data-testid="stButtonGroup"] button{{padding:4px 9px;min-height:32px}}'
        # The Select box (bulk review) sits on the thumbnail's top right corner, without its word.
        f"{select}{{height:0;width:100%;z-index:3;position:relative}}"
        f"{select} label{{position:absolute;top:12px;right:4px;padding:2px 0 2px 4px;border-radius:4px;"
        "background:rgba(15,23,42,.82);gap:0}"
        f'{select} [data-testid="stWidgetLabel"]{{display:none}}'
        if compact
        else ""
    )
    return (
        # The card: framed as a bordered st.container is (the dark theme's border colour, radius and padding).
        f"<style>{CARD}{{border:1px solid rgba(237,235,232,.2);border-radius:.5rem;padding:calc(1rem - 1px);"
        "gap:.5rem}"
        f"{view}{{height:0;z-index:2;position:relative}}"
        f"{view} button{{position:absolute;top:0;left:0;width:100%;height:{height + 4}px;border:0;"
        "background:transparent;cursor:zoom-in;display:flex;align-items:flex-end;justify-content:flex-end;"
        "padding:6px}"
        f"{view} button > div{{opacity:0;background:rgba(15,23,42,.85);border-radius:4px;padding:0 6px}}"
        f"{view} button:hover > div,{view} button:focus-visible > div{{opacity:1}}"
        f"{view} button:focus-visible{{outline:2px solid #14b8a6;border-radius:6px}}"
        f"{compact_css}</style>"
    )


def _thumbnail_html(row: HeroTarget, shot: ShotPublic, *, height: int = THUMB_MAX_HEIGHT) -> str:
    """The row's thumbnail inside a box of fixed height (every card the same height, whatever the size's aspect),
    or the same box naming the missing file; the review badges of every size on it, its edge in the shown
    size's review colour."""
    url = row.thumb_url or row.url
    inner = (
        _img(url, f"{row.size_label} hero", "max-width:100%;max-height:100%;display:block")
        if url
        else f'<span role="img" aria-label="No image yet: {html.escape(row.filename, quote=True)}" '
        f'style="font-size:.8rem;opacity:.7;word-break:break-all;padding:8px">{_MISSING_ICON} '
        f"{html.escape(row.filename)}</span>"
    )
    return (
        f'<div style="position:relative;height:{height}px;display:flex;align-items:center;justify-content:center;'
        f'border-radius:6px;background:rgba(127,127,127,.08);box-shadow:inset 0 -3px 0 {look(row)[1]}">'
        f"{inner}{badges_html(shot, row.size_label)}</div>"
    )


def card_html(shot_id: str, shot: ShotPublic, row: HeroTarget, *, compact: bool = False, notes: str = "") -> str:
    """Thumbnail with review badges, `{shotId} · {sku}`, the shown size's decision (who, when), `{size} · W×H`, the
    file name and `notes` (comments, prompt changes; compact: thumbnail, shot line and decision): one element."""
    shot_line = f"{html.escape(shot_id)} · {html.escape(shot.sku)}"
    if compact:
        return (
            f"{_thumbnail_html(row, shot, height=COMPACT_THUMB_HEIGHT)}"
            f'<div style="{_CAPTION};margin-top:4px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis" '
            f'title="{shot_line}">{shot_line}</div>'
            f"{status_line_html(row, short=True, style=_SMALL)}{_MARKDOWN_END}"
        )
    size_line = f"{html.escape(row.size_label)} · {row.width}×{row.height}"
    file_line = (
        f'<div style="{_CAPTION};white-space:nowrap;overflow:hidden;text-overflow:ellipsis" '
        f'title="{html.escape(row.filename, quote=True)}">{html.escape(row.filename)}</div>'
        if row.thumb_url or row.url
        else ""
    )  # a missing image's box already names the file
    # The shot line is an element of its own with exactly that text (what finds the card).
    return (
        f'{_thumbnail_html(row, shot)}<div style="{_CAPTION};margin-top:6px">{shot_line}</div>'
        f"{status_line_html(row, short=False, style=_SMALL)}"
        f'<div style="{_CAPTION}">{size_line}</div>{file_line}{notes}{_MARKDOWN_END}'
    )


def card_body(shot_id: str, shot: ShotPublic, row: HeroTarget, *, notes: str = "", compact: bool = False) -> None:
    st.markdown(card_html(shot_id, shot, row, compact=compact, notes=notes), unsafe_allow_html=True)


def save_references(work_item_id: str, shot_id: str, files: list[tuple[str, bytes | BinaryIO]]) -> bool:
    """Store the uploaded files as the shot's references and toast the outcome (spec 000); True if stored."""
    try:
        options = ReferenceUpload(shot_id=shot_id, files=files)
        result = add_references(work_item_id=work_item_id, options=options)
    except (ReshootError, ValidationError) as exc:
        e = invalid_from(exc) if isinstance(exc, ValidationError) else exc
        details = e.details if isinstance(e.details, dict) else {}
        reason = details.get("reason") or e.message or messages.REFERENCES_FAILED_BODY
        name = details.get("filename")
        queue_toast(messages.REFERENCES_FAILED_TITLE, f"{name}: {reason}" if name else reason, kind="error")
        return False
    except Exception:
        queue_toast(messages.REFERENCES_FAILED_TITLE, messages.REFERENCES_FAILED_BODY, kind="error")
        return False
    saved = len(result.references)
    queue_toast(messages.REFERENCES_SAVED_TITLE, messages.references_saved_body(saved, shot_id))
    _show_references(work_item_id, shot_id, list_references(work_item_id, shot_id))
    return True


def _show_references(work_item_id: str, shot_id: str, refs: list[ReferencePublic]) -> None:
    """The card's shot with the shot's references as they are now."""
    shot = card_shot(work_item_id, shot_id).model_copy(
        update={"references": refs[:REFERENCES_SHOWN], "reference_count": len(refs)}
    )
    st.session_state[_key("shot", work_item_id, shot_id)] = shot


def _uploader_key(work_item_id: str, shot_id: str) -> str:
    return (
        f"{_key('upload', work_item_id, shot_id)}_{st.session_state.get(_key('upload_gen', work_item_id, shot_id), 0)}"
    )


def _upload_references(work_item_id: str, shot_id: str, disabled: bool) -> None:
    """`Upload reference`: a popover whose uploader exists only while it is open. Files picked there are saved in
    the next card run, with the button reading `Uploading…` (disabled) meanwhile; a successful upload closes it."""
    open_key = renewable_key("upload_open", work_item_id, shot_id)
    uploader_key = _uploader_key(work_item_id, shot_id)
    files = st.session_state.get(uploader_key)
    popover = st.popover(
        messages.UPLOAD_REFERENCE_LOADING if files else messages.UPLOAD_REFERENCE,
        icon=":material/upload:",
        help=why_disabled(Role.reviewer, messages.UPLOAD_REFERENCE_TOOLTIP),
        disabled=disabled or bool(files) or lacks(Role.reviewer),
        width="stretch",
        key=open_key,
        # Tracks open/closed, so the uploader exists only while open (a third of a card's cost).
        on_change=_popover_toggled,
        args=(work_item_id, shot_id, open_key),
    )
    if files:  # the label above is already on screen while this saves
        saved = save_references(work_item_id, shot_id, [(f.name, f) for f in files])  # read one at a time
        st.session_state[_key("upload_gen", work_item_id, shot_id)] = (
            st.session_state.get(_key("upload_gen", work_item_id, shot_id), 0) + 1
        )  # a fresh, empty uploader
        if saved:  # a refused file keeps it open
            renew_key("upload_open", work_item_id, shot_id)
        _rerun_card()
    if popover.open:
        popover.file_uploader("Reference images", type=ACCEPTED_TYPES, accept_multiple_files=True, key=uploader_key)
        popover.caption("PNG, JPEG, WebP or GIF; several at once. They are saved as soon as you pick them.")
        if st.session_state.pop(_key("upload_opened", work_item_id, shot_id), False):
            popover.html(open_file_picker_script(uploader_key), unsafe_allow_javascript=True)


# Opens the uploader's file picker right away: the click on `Upload reference` (a user activation, which browsers
# require and keep for a few seconds) thus opens the picker, one click instead of two. If the browser refuses,
# the uploader's own button and drop zone are there as before.
def open_file_picker_script(uploader_key: str) -> str:
    """Clicks the uploader's file input as soon as it is drawn (it may come a moment after this script)."""
    css_class = "st-key-" + re.sub(r"[^a-zA-Z0-9_-]", "-", uploader_key.strip())  # as Streamlit names it
    selector = json.dumps(f".{css_class} input[type=file]")
    return (
        "<script>(() => { const until = Date.now() + 2000; const pick = () => {"
        f" const input = document.querySelector({selector});"
        " if (input) input.click(); else if (Date.now() < until) setTimeout(pick, 50); }; pick(); })();</script>"
    )


def _popover_toggled(work_item_id: str, shot_id: str, open_key: str) -> None:
    """`Upload reference` was opened (or closed): remember an opening, for the one run that opens the picker."""
    st.session_state[_key("upload_opened", work_item_id, shot_id)] = bool(st.session_state.get(open_key))


def _rerun_card() -> None:
    """Rerun only this card when it runs as a fragment rerun (a click in it); inside a full run, the whole app."""
    try:
        st.rerun(scope="fragment")
    except StreamlitAPIException:
        st.rerun()


def start_regeneration(work_item_id: str, shot_id: str) -> None:
    """`Regenerate shot`: all sizes of this one shot, overwriting, with its references (spec 000)."""
    try:
        started = start_heroes_job(
            work_item_id=work_item_id, options=GenerateHeroesOptions(shot_ids=[shot_id], overwrite=True)
        )
    except Exception:
        queue_toast(messages.REGENERATE_FAILED_TITLE, messages.regenerate_failed_body(shot_id), kind="error")
        return
    finished = wait_briefly(started.job_id)  # a short job's image then shows in this click's card rerun
    if finished:
        finish_once(finished, partial(regeneration_finished, work_item_id, shot_id))
    else:
        st.session_state[_key("job", work_item_id, shot_id)] = started.job_id


def regeneration_finished(work_item_id: str, shot_id: str, job: JobPublic) -> None:
    st.session_state.pop(_key("job", work_item_id, shot_id), None)
    st.session_state[_key("stale", work_item_id, shot_id)] = True
    result = job.heroes_result()  # none if it died early
    if job.status == JobStatus.succeeded and not (result and shot_id in {f.shot_id for f in result.failed}):
        queue_toast(messages.HEROES_REGENERATED_TITLE, messages.heroes_regenerated_body(shot_id))
    else:
        queue_toast(messages.REGENERATE_FAILED_TITLE, messages.regenerate_failed_body(shot_id), kind="error")


def _show_new_image(work_item_id: str, shot_id: str, _job: JobPublic) -> None:
    """Another reviewer's (or the API's) job ended: no toast here; the rerun that follows shows its image."""
    st.session_state[_key("stale", work_item_id, shot_id)] = True


def hero_card(work_item_id: str, shot_id: str) -> None:
    """One shot's card (runs as its own fragment). While a job this session started runs on it, each of the card's
    own reruns ends waiting for the job (`hold_and_rerun`), so its end shows in a rerun of this card alone."""
    if own_job := _card(work_item_id, shot_id):
        hold_and_rerun(own_job)


def _card(work_item_id: str, shot_id: str) -> str | None:
    """The card; the job this session started on it and watches here (None: none, or watched by `job_progress`)."""
    show_queued_toasts()
    own_job = card_job(work_item_id, shot_id)
    if own_job and settle(own_job, partial(regeneration_finished, work_item_id, shot_id)):
        own_job = None
        show_queued_toasts()
    if st.session_state.pop(_key("stale", work_item_id, shot_id), False):
        refresh_card_shot(work_item_id, shot_id)
    shot = card_shot(work_item_id, shot_id)
    job_id = own_job or shot.active_job_id  # a job for this shot started anywhere
    # The fragment's own container is the card: grid_css frames it (a bordered st.container would be one more
    # element a card).
    select_box(work_item_id, shot_id)  # bulk review; in a compact card, a box on the thumbnail (grid_css)
    if is_compact():
        _compact_card(work_item_id, shot_id, shot, job_id=job_id, own_job=own_job)
        return _watched_here(work_item_id, shot_id, own_job)
    row = selected_row(work_item_id, shot)
    if row is None:
        st.caption(f"{escape_markdown(shot_id)} has no export sizes.")
        return _watched_here(work_item_id, shot_id, own_job)
    _view_button(work_item_id, shot_id)
    notes = card_notes_html(work_item_id, shot_id, row.size_label) + rejected_notes_html(work_item_id, shot_id)
    card_body(shot_id, shot, row, notes=notes)
    review_buttons(work_item_id, shot_id, row)
    _references_button(work_item_id, shot_id, shot)
    _upload_references(work_item_id, shot_id, disabled=bool(job_id))
    prompt_popover(work_item_id, shot_id, disabled=bool(job_id))
    _regenerate_button(work_item_id, shot_id, job_id=job_id)
    _job_or_compare(work_item_id, shot_id, row, job_id=job_id, own_job=own_job)
    return _watched_here(work_item_id, shot_id, own_job)


def _watched_here(work_item_id: str, shot_id: str, own_job: str | None) -> str | None:
    """`own_job` if this card run watches it itself: a rerun of the card alone (`rerun_of_one_fragment`) that opened
    no dialog over the grid (a rerun of the card that does not draw it again closes it)."""
    if not own_job or not rerun_of_one_fragment():
        return None  # (most cards: asks nothing more of the session state)
    dialog = st.query_params.get("shot") or any(
        st.session_state.get(_key(name, work_item_id, shot_id)) for name in ("view", "references", "compare")
    )  # the large view (open while the address names a shot), the references, Compare
    return None if dialog else own_job


def _compact_card(
    work_item_id: str, shot_id: str, shot: ShotPublic, *, job_id: str | None, own_job: str | None
) -> None:
    """Thumbnail (with the review badges), shot line and decision; the size switch and a ⋮ menu with every action
    (its contents exist only while it is open)."""
    row = picked_row(work_item_id, shot)  # the switch is drawn below the picture it picks
    if row is None:
        st.caption(f"{escape_markdown(shot_id)} has no export sizes.")
        return
    _view_button(work_item_id, shot_id)
    card_body(shot_id, shot, row, compact=True)
    with st.container(horizontal=True, gap="xsmall", vertical_alignment="center"):
        size_switch(shot, key=_key("size", work_item_id, shot_id), short=True)
        _card_menu(work_item_id, shot_id, shot, row, job_id=job_id)
    if job_id:
        _job_or_compare(work_item_id, shot_id, row, job_id=job_id, own_job=own_job)


def _card_menu(work_item_id: str, shot_id: str, shot: ShotPublic, row: HeroTarget, *, job_id: str | None) -> None:
    """The compact card's actions: review with a note, regenerate, references, compare."""
    uploader_key = _uploader_key(work_item_id, shot_id)
    files = st.session_state.get(uploader_key)
    menu = st.popover(
        "",
        icon=":material/more_vert:",
        key=renewable_key("menu", work_item_id, shot_id),
        on_change="rerun",  # tracks open/closed: the menu's widgets exist only while it is open
        help=f"Review, regenerate, references: {shot_id}",
    )
    if files:  # picked in the menu's uploader: saved in this card run
        save_references(work_item_id, shot_id, [(f.name, f) for f in files])
        st.session_state[_key("upload_gen", work_item_id, shot_id)] = (
            st.session_state.get(_key("upload_gen", work_item_id, shot_id), 0) + 1
        )
        _rerun_card()
    if not menu.open:
        return
    with menu:
        st.caption(f"{escape_markdown(shot_id)} · {escape_markdown(row.size_label)}")
        review_buttons(work_item_id, shot_id, row, in_menu=True)
        rejected_notes(work_item_id, shot_id)
        if not lacks(Role.reviewer):
            prompt_editor(work_item_id, shot_id, disabled=bool(job_id))
        _regenerate_button(work_item_id, shot_id, job_id=job_id)
        if not job_id and not lacks(Role.reviewer):
            st.file_uploader(
                messages.UPLOAD_REFERENCE, type=ACCEPTED_TYPES, accept_multiple_files=True, key=uploader_key
            )
        _references_button(work_item_id, shot_id, shot)
        _compare_button(work_item_id, shot_id, row)


def _regenerate_button(work_item_id: str, shot_id: str, *, job_id: str | None) -> None:
    st.button(
        messages.REGENERATE_SHOT_LOADING if job_id else messages.REGENERATE_SHOT,
        type="primary",
        help=why_disabled(Role.reviewer, regenerate_help(work_item_id, shot_id, messages.REGENERATE_SHOT_TOOLTIP)),
        disabled=bool(job_id) or lacks(Role.reviewer),
        width="stretch",
        key=_key("regenerate", work_item_id, shot_id),
        on_click=start_regeneration,
        args=(work_item_id, shot_id),
    )


def _job_or_compare(
    work_item_id: str, shot_id: str, row: HeroTarget, *, job_id: str | None, own_job: str | None
) -> None:
    if own_job:
        own_job_progress(
            own_job,
            on_finish=partial(regeneration_finished, work_item_id, shot_id),
            held=bool(_watched_here(work_item_id, shot_id, own_job)),
        )
    elif job_id and job_id != panel_job(work_item_id):  # one poll (and one toast) per job: the panel's
        job_progress(job_id, on_finish=partial(_show_new_image, work_item_id, shot_id))
    elif not job_id:
        _compare_button(work_item_id, shot_id, row)


def _compare_button(work_item_id: str, shot_id: str, row: HeroTarget) -> None:
    if (
        row.previous_version_id
        and row.version is not None
        and st.button(
            f"Compare v{row.version - 1} / v{row.version}",
            icon=":material/compare:",
            type="tertiary",
            key=_key("compare", work_item_id, shot_id),
        )
    ):
        compare_dialog(row)


def _view_button(work_item_id: str, shot_id: str) -> None:
    """`View larger`, laid over the thumbnail drawn next (grid_css): clicking the picture opens the large view."""
    if st.button(
        "View larger",
        icon=":material/zoom_in:",
        type="tertiary",
        help=messages.LARGE_VIEW_TOOLTIP,
        key=_key("view", work_item_id, shot_id),
        width="stretch",
    ):
        size = st.session_state.get(_key("size", work_item_id, shot_id))
        st.session_state.pop(_key("dialog_size", work_item_id, shot_id), None)  # opens at the card's size
        st.query_params.update(shot=shot_id, **({"size": size} if size else {}))
        show_large_view(work_item_id, shot_id)


def _references_button(work_item_id: str, shot_id: str, shot: ShotPublic) -> None:
    """The shot's first reference thumbnails (then `+N more`) as one button that opens every reference large."""
    count = shot.reference_count
    if count and st.button(
        references_label(shot),
        type="tertiary",
        help=f"{count} reference image{'s' if count != 1 else ''}: see them large, who uploaded them, delete",
        key=_key("references", work_item_id, shot_id),
    ):
        references_dialog(work_item_id, shot_id)


def references_label(shot: ShotPublic) -> str:
    """The first 3 reference thumbnails (Markdown images in a button label show at text height), then `+N more`."""
    refs = shot.references[:REFERENCES_SHOWN]
    count = shot.reference_count
    pictures = " ".join(f"![ref]({absolute_url(ref.thumb_url or ref.url)})" for ref in refs)
    return pictures + (f" +{count - len(refs)} more" if count > len(refs) else "")


def turn_to_linked_shot(item: WorkItemDetail) -> None:
    """`?shot=OL-2` names a shot on another grid page than the one read: show that page (call before the grid)."""
    shot_id = st.query_params.get("shot")
    if shot_id in item.shot_ids and not any(shot.shot_id == shot_id for shot in item.shots):
        st.session_state[_page_key(item.id)] = item.shot_ids.index(shot_id) // CARDS_PER_PAGE + 1
        st.rerun()


def _when(value: str | None) -> str:
    return value.replace("T", " ")[:16] + " UTC" if value else "unknown time"


def _confirm(work_item_id: str, shot_id: str, reference_id: str | None) -> None:
    st.session_state[_key("ref_confirm", work_item_id, shot_id)] = reference_id


def delete_confirmed(work_item_id: str, shot_id: str, reference_id: str, name: str) -> None:
    """The confirmation's Delete: remove the reference, update the card, and close the dialog (next run)."""
    _confirm(work_item_id, shot_id, None)
    try:
        delete_reference(reference_id)
    except ReshootError as e:
        queue_toast("Couldn’t delete the reference", e.message or e.code, kind="error")
        return
    queue_toast("Reference deleted", f"{name} is no longer a reference of {shot_id}.")
    _show_references(work_item_id, shot_id, list_references(work_item_id, shot_id))
    st.session_state[_key("ref_deleted", work_item_id, shot_id)] = True


@st.dialog("References", width="large")
def references_dialog(work_item_id: str, shot_id: str) -> None:
    """Every reference of the shot, large, with who uploaded it and when; Delete asks first."""
    if st.session_state.pop(_key("ref_deleted", work_item_id, shot_id), False):
        st.rerun()  # the whole page: the card behind shows the change, the dialog closes
    refs = list_references(work_item_id, shot_id)
    st.caption(
        f"{escape_markdown(shot_id)} · {len(refs)} reference image{'s' if len(refs) != 1 else ''}, "
        "sent to the image backend with the shot's prompt"
    )
    confirming = st.session_state.get(_key("ref_confirm", work_item_id, shot_id))
    with st.container(horizontal=True, gap="medium"):
        for ref in refs:
            with st.container(border=True, width=260, gap="xsmall"):
                _reference_tile(work_item_id, shot_id, ref, confirming=confirming == ref.id)


def _reference_tile(work_item_id: str, shot_id: str, ref: ReferencePublic, *, confirming: bool) -> None:
    st.image(absolute_url(ref.url), width="stretch")
    name = ref.original_filename or ref.filename
    st.caption(
        f"**{escape_markdown(name)}** · {ref.width}×{ref.height}  \n"
        f"uploaded by {escape_markdown(ref.uploaded_by or 'unknown')} · {_when(ref.created_at)}"
    )
    key = partial(_key, work_item_id=work_item_id, shot_id=shot_id)
    if not confirming:
        st.button(
            "Delete",
            icon=":material/delete:",
            key=key(f"ref_delete_{ref.id}"),
            disabled=lacks(Role.admin),
            help=why_disabled(Role.admin),
            on_click=_confirm,
            args=(work_item_id, shot_id, ref.id),
        )
        return
    st.warning(f"Delete {escape_markdown(name)}? The next regeneration will not use it.")
    yes, no = st.columns(2)
    yes.button(
        "Delete",
        type="primary",
        key=key(f"ref_yes_{ref.id}"),
        on_click=delete_confirmed,
        args=(work_item_id, shot_id, ref.id, name),
    )
    no.button("Keep", key=key(f"ref_no_{ref.id}"), on_click=_confirm, args=(work_item_id, shot_id, None))


@st.dialog("Compare versions", width="large")
def compare_dialog(row: HeroTarget) -> None:
    """The previous and the current image of one hero target, at the same size."""
    before = compare_with_previous(row, key=compare_key("mode", row.id))
    if before is None:
        show_toast("Nothing to compare", "The previous version is no longer stored.", kind="warning")
        return
    use_version_button(before, key=compare_key("use", before.id))
