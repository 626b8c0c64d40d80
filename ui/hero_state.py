"""What the hero cards and the large view share: their session-state keys, the shot a card was handed, the size
switch, and the reference thumbnails as HTML."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping

import streamlit as st

from services.read_models.heroes import HeroTarget, ShotPublic
from ui.images import absolute_url

REFERENCES_SHOWN = 3


def card_key(name: str, work_item_id: str, shot_id: str) -> str:
    return f"detail_{name}_{work_item_id}_{shot_id}"


def renewable_key(name: str, work_item_id: str, shot_id: str, state: Mapping[str, object] | None = None) -> str:
    """A card widget's key that `renew_key` replaces: the next run draws a new widget, at its default. For where
    setting the widget's state is not enough, because the browser sends back what it last drew: a popover set to
    closed is opened again by the `open` the browser keeps sending with the next interaction in the card (the Upload
    reference popover with its file picker); the large view's size switch set by a key goes back to the old size if
    the browser sent its value before drawing the change. `state`: the session state to read (a test's AppTest's),
    this session's by default."""
    rounds = (st.session_state if state is None else state).get(card_key(f"{name}_round", work_item_id, shot_id), 0)
    return f"{card_key(name, work_item_id, shot_id)}_{rounds}"


def renew_key(name: str, work_item_id: str, shot_id: str) -> None:
    """The next run draws the card's widget `name` anew (a popover: closed), under a new `renewable_key`."""
    round_key = card_key(f"{name}_round", work_item_id, shot_id)
    st.session_state[round_key] = st.session_state.get(round_key, 0) + 1


def card_shot(work_item_id: str, shot_id: str) -> ShotPublic:
    return st.session_state[card_key("shot", work_item_id, shot_id)]


def selected_row(
    work_item_id: str, shot: ShotPublic, *, key_name: str = "size", default: str | None = None
) -> HeroTarget | None:
    """The row of the size picked in this card's (or dialog's) switch; `default` (or the first size) at first."""
    if not shot.rows:
        return None
    size_switch(shot, key=card_key(key_name, work_item_id, shot.shot_id), default=default)
    return picked_row(work_item_id, shot, key_name=key_name)


def picked_row(work_item_id: str, shot: ShotPublic, *, key_name: str = "size") -> HeroTarget | None:
    """The row of the size picked in the switch (drawn or about to be drawn in this run); the first at first."""
    rows = {row.size_label: row for row in shot.rows}
    if not rows:
        return None
    picked = st.session_state.get(card_key(key_name, work_item_id, shot.shot_id))
    return rows.get(picked or "") or next(iter(rows.values()))


def size_switch(
    shot: ShotPublic,
    *,
    key: str,
    default: str | None = None,
    short: bool = False,
    on_change: Callable[[], None] | None = None,
) -> None:
    """Desktop / Tablet / Mobile (`D` / `T` / `M` when `short`, if their first letters differ)."""
    labels = [row.size_label for row in shot.rows]
    letters = {label: label[:1].upper() for label in labels}
    spelled = not short or len(set(letters.values())) < len(letters)
    st.segmented_control(
        "Size",
        labels,
        default=default if default in labels else labels[0],  # a drawn switch keeps its own value
        key=key,
        on_change=on_change,
        format_func=None if spelled else letters.__getitem__,
        label_visibility="collapsed",
        width="content" if short else "stretch",
    )


def img_tag(url: str | None, alt: str, style: str) -> str:
    src = html.escape(absolute_url(url) or "", quote=True)
    return f'<img src="{src}" alt="{html.escape(alt, quote=True)}" style="{style}">'


def references_html(shot: ShotPublic) -> str:
    """The first 3 reference thumbnails in one row, then `+N more` (spec 000)."""
    refs = shot.references[:REFERENCES_SHOWN]
    count = shot.reference_count
    if not count:
        return ""
    pictures = "".join(
        img_tag(
            ref.thumb_url or ref.url,
            f"reference {ref.filename}",
            "width:36px;height:36px;object-fit:cover;border-radius:4px",
        )
        for ref in refs
    )
    more = f'<span style="font-size:.8rem;opacity:.7">+{count - len(refs)} more</span>' if count > len(refs) else ""
    return f'<div style="display:flex;gap:4px;align-items:center;height:36px;margin-top:4px">{pictures}{more}</div>'
