"""A wrong or missing setting shown as one plain message with the way to Settings, instead of a traceback."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from services.errors import ReshootError
from services.operator_errors import plain_error
from ui.toasts import escape_markdown

SETTINGS_PAGE = "pages/settings.py"


def configuration_problem(step: Callable[[], object]) -> ReshootError | None:
    """Run `step`; a configuration error it raises is returned, anything else raised as before."""
    try:
        step()
    except Exception as e:
        problem = plain_error(e)
        if problem is None:
            raise
        return problem
    return None


def show_configuration_problem(problem: ReshootError, *, link_to_settings: bool = True) -> None:
    # One sentence a line (several bad settings are said at once).
    st.error(escape_markdown(problem.message).replace("\n", "  \n"), icon=":material/settings_alert:")
    if link_to_settings:
        st.page_link(
            SETTINGS_PAGE,
            label="Settings shows what each part runs on and whether it answers",
            icon=":material/settings:",
        )
