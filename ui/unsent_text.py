"""Text typed in a box and not sent yet survives the runs that do not draw the box (its popover, expander or shot is
closed, or another hero is shown), so it is there when the box comes back. Streamlit drops a widget's value in a run
that does not draw it unless the value was set through the session state; call these before the box is drawn."""

from __future__ import annotations

import streamlit as st


def keep_unsent(key: str) -> None:
    """Keep the text of the box `key`, if any. Only text: a button under the same prefix refuses a value."""
    text = st.session_state.get(key)
    if isinstance(text, str) and text:
        st.session_state[key] = text


def keep_unsent_under(prefix: str) -> None:
    """Keep the text of every box whose key starts with `prefix` (one box per shot or hero)."""
    for key in [k for k in st.session_state if k.startswith(prefix)]:
        keep_unsent(key)
