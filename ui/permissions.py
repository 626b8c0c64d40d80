"""What the signed-in person may do, for widgets: `disabled=lacks(Role.reviewer)`, `help=why_disabled(...)`."""

from __future__ import annotations

import streamlit as st

from services.auth import why_not
from services.identity import Role


def lacks(role: Role) -> bool:
    """True when the current actor's role does not allow `role` (the button is then disabled)."""
    return why_not(role) is not None


def why_disabled(role: Role, usual_help: str | None = None) -> str | None:
    """The tooltip: why the actor may not use it, or the widget's usual help."""
    return why_not(role) or usual_help


def page_requires(role: Role) -> None:
    """Stop a page (or the rest of it) with a plain message when the actor's role does not allow `role`."""
    reason = why_not(role)
    if reason:
        st.warning(reason, icon=":material/lock:")
        st.stop()
