"""The hero grid's density, as the signed-in person last chose it (stored server-side, services/preferences.py):
`comfortable` cards carry their actions, `compact` ones fit 5–6 a row with their actions in a menu."""

from __future__ import annotations

import streamlit as st

from services.errors import ReshootError
from services.preferences import GridDensity, get_preferences, set_grid_density
from ui.toasts import queue_toast

_STATE = "detail_grid_density"  # the person's stored choice, read once a session
TOGGLE_KEY = "detail_compact_toggle"


def grid_density() -> GridDensity:
    """The stored choice; read from the database at a session's first run only (grid runs then query nothing)."""
    stored = st.session_state.get(_STATE)  # one read: a run asks for each card
    if stored is None:
        stored = st.session_state[_STATE] = get_preferences().grid_density
    return GridDensity(stored)


def is_compact() -> bool:
    return grid_density() is GridDensity.compact


def _toggled() -> None:
    picked = GridDensity.compact if st.session_state.get(TOGGLE_KEY) else GridDensity.comfortable
    try:
        st.session_state[_STATE] = set_grid_density(density=picked).grid_density
    except ReshootError as e:
        queue_toast("Couldn’t save the grid density", e.message or e.code, kind="error")


def density_toggle() -> None:
    """`Compact`: switches the grid at once and remembers it for this person (any browser, next session)."""
    st.session_state[TOGGLE_KEY] = is_compact()  # follows the stored choice (another tab may have changed it)
    st.toggle(
        "Compact",
        key=TOGGLE_KEY,
        on_change=_toggled,
        help="5–6 smaller cards a row, their actions in a ⋮ menu; remembered for you",
        width="content",
    )
