"""Reshoot's entry point: `streamlit run dashboard.py`.

`streamlit run` finds the `app = st.App(...)` below and serves this file through uvicorn, which imports it as
the module `dashboard` (so `app` is built) and then runs it as the page script `__main__` (so `main()` runs).
The App adds `GET /assets/{key}` for images in local storage to the same server.
"""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

PAGES_DIR = "pages"
# Streamlit stacks toasts at the top right, over a page's title at 1024 px; the bottom right covers no heading.
# Streamlit's toast is 21rem wide and shows three lines of about 33 characters before `view more`, hiding the end
# of the spec's bodies (their call to action): at 40rem a title and a body of up to about 130 characters fit.
TOASTS_AT_THE_BOTTOM = (
    "<style>.stToastContainer { top: auto !important; bottom: 1rem !important; }"
    ' [data-testid="stToast"] { width: min(40rem, calc(100vw - 2rem)) !important; }</style>'
)


def _bootstrap(database_url: str, queue_url: str) -> None:
    """Migrate the database, start the embedded job worker and load the demo set into an empty database (in the
    background: the first page shows at once and says how far the demo is)."""
    import services.job_handlers  # noqa: F401  (every job kind's handlers, before the embedded consumers start)
    from services.db import migrate
    from services.demo import load_demo_in_background
    from services.jobs import start_embedded_workers_if_enabled
    from services.operator_errors import check_queue

    migrate()
    check_queue()  # an unreachable Redis is said on every page, not only when a job is queued
    start_embedded_workers_if_enabled()
    load_demo_in_background()


@st.cache_resource(show_spinner="Preparing the database…")
def _bootstrap_once(database_url: str, queue_url: str) -> bool:
    _bootstrap(database_url, queue_url)
    return True


def navigation_pages() -> dict[str, list[st.Page]]:
    return {
        "Review": [
            st.Page(f"{PAGES_DIR}/work_items.py", title="Work Items", icon=":material/list_alt:", default=True),
            st.Page(f"{PAGES_DIR}/work_item.py", title="Work Item", url_path="work_item", visibility="hidden"),
            st.Page(f"{PAGES_DIR}/review_queue.py", title="Review queue", icon=":material/rule:"),
            st.Page(f"{PAGES_DIR}/sku_switcher.py", title="SKU Switcher", icon=":material/devices:"),
            st.Page(f"{PAGES_DIR}/storyboard.py", title="Storyboard", icon=":material/movie:"),
        ],
        "System": [
            st.Page(f"{PAGES_DIR}/jobs.py", title="Jobs", icon=":material/pending_actions:"),
            st.Page(f"{PAGES_DIR}/activity.py", title="Activity", icon=":material/history:"),
            st.Page(f"{PAGES_DIR}/settings.py", title="Settings", icon=":material/settings:"),
        ],
    }


def main() -> None:
    from services.auth import AuthMode, auth_mode
    from services.config import get_settings
    from services.demo import demo_load_failure
    from services.identity import acting_as
    from ui.operator_errors import configuration_problem, show_configuration_problem
    from ui.signin import identity_sidebar, install_actor_source, session_gate, sign_in_page
    from ui.toasts import show_queued_toasts

    # An emoji favicon is drawn in the browser; a :material/…: one is fetched from fonts.gstatic.com (offline: no).
    st.set_page_config(page_title="Reshoot", page_icon="🖼️", layout="wide")
    problem = configuration_problem(get_settings)
    if problem is not None:  # a setting it cannot read: nothing runs (nor can anyone sign in) until it is fixed
        show_configuration_problem(problem, link_to_settings=False)
        st.stop()
    settings = get_settings()
    problem = configuration_problem(lambda: _bootstrap_once(settings.database_url, settings.queue_url))
    problem = problem or demo_load_failure()  # the demo loads in the background: its failure is said here
    if problem is not None and auth_mode() is not AuthMode.none:
        show_configuration_problem(problem, link_to_settings=False)  # nobody can sign in until it is fixed
        st.stop()
    install_actor_source()
    gate = session_gate()
    if gate.actor is None:  # unsigned visitors see only the sign-in page
        st.navigation(
            [st.Page(lambda: sign_in_page(gate.reason), title="Sign in", url_path="sign-in")], position="hidden"
        ).run()
        return
    page = st.navigation(navigation_pages())
    identity_sidebar(gate.actor)
    if problem is not None:  # a wrong setting: say which, on every page; Settings still shows what answers
        show_configuration_problem(problem, link_to_settings=page.url_path != "settings")
        if page.url_path != "settings":
            st.stop()
    show_queued_toasts()
    st.html(TOASTS_AT_THE_BOTTOM)
    with acting_as(gate.actor):
        problem = configuration_problem(page.run)
    if problem is not None:
        show_configuration_problem(problem)


def refuse_unsafe_address() -> None:
    """With RESHOOT_AUTH=none the dashboard listens on loopback only (`.streamlit/config.toml` server.address)."""
    from services.auth import unsafe_bind_message
    from services.config import SettingError

    try:
        refusal = unsafe_bind_message(st.get_option("server.address") or "", server="dashboard")
    except SettingError as e:  # the server cannot start on settings it cannot read: say which, plainly
        raise SystemExit(f"Reshoot cannot start: {e.message}") from None
    if refusal:
        raise SystemExit(refusal)


def declare_navigation() -> None:
    """Tell Streamlit, before any session runs, that this app routes with st.navigation.

    With a pages/ folder beside the entry point, Streamlit serves the legacy pages/-folder app until some session
    has called st.navigation: a fresh server's first visitor on a deep link (/work_item?id=7) would get that page
    file run alone, without main() (no navigation, no bootstrap, no sign-in gate). Calling st.navigation turns that
    mode off for the server (Streamlit 1.67: the first thing st.navigation does, with or without a session);
    tests/e2e/test_deep_link.py fails if a Streamlit upgrade changes that. Outside a session each st.Page logs
    "missing ScriptRunContext", which means nothing here: those warnings are kept out of the server's log."""
    logging.disable(logging.WARNING)
    try:
        st.navigation(navigation_pages())
    finally:
        logging.disable(logging.NOTSET)


if __name__ == "__main__":
    main()
else:
    refuse_unsafe_address()  # first: the imports below read the settings
    declare_navigation()

    from starlette.middleware import Middleware

    from services.api.security import LoopbackHosts
    from ui.assets import asset_routes
    from ui.index_page import page_routes

    # Each page file's URL path is its name (st.Page's default; work_item's is set to the same).
    page_paths = sorted(path.stem for path in (Path(__file__).parent / PAGES_DIR).glob("*.py"))
    # RESHOOT_AUTH=none: a browser request naming another host came by DNS rebinding (services/api/security.py).
    app = st.App(__file__, routes=asset_routes() + page_routes(page_paths), middleware=[Middleware(LoopbackHosts)])
