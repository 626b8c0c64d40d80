"""Who is using the dashboard: the sign-in gate, the person in the sidebar, and the actor of callbacks/fragments.

`RESHOOT_AUTH=none`: the local user. `oidc`: Streamlit's `st.login` / `st.user` / `st.logout` (`[auth]` in
`.streamlit/secrets.toml`). `proxy`: oauth2-proxy's `X-Forwarded-*` headers from the WebSocket handshake
(`st.context.headers`), trusted only when `st.context.ip_address` is in RESHOOT_TRUSTED_PROXIES; Streamlit
reports a loopback peer as None, read here as 127.0.0.1.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from services.auth import AuthMode, auth_mode, proxy_actor, sign_in, unauthenticated
from services.config import get_settings
from services.errors import ReshootError
from services.identity import Actor, local_actor, set_actor_source
from ui.toasts import escape_markdown

ACTOR_KEY = "auth_actor"


@dataclass(frozen=True)
class Gate:
    """The signed-in actor, or why there is none (`reason` None: simply not signed in yet)."""

    actor: Actor | None
    reason: str | None = None


def _oidc_gate() -> Gate:
    user = st.user
    if not user.get("is_logged_in", False):
        return Gate(None)
    email = str(user.get("email") or user.get("preferred_username") or user.get("sub") or "")
    name = str(user.get("name") or user.get("preferred_username") or "")
    claimed = user.get(get_settings().groups_claim)
    if isinstance(claimed, str):
        groups = [claimed]
    elif isinstance(claimed, list):
        groups = [str(g) for g in claimed]
    else:  # absent, or not a list of names
        groups = []
    return Gate(sign_in(email=email, name=name, groups=groups))


def _proxy_gate() -> Gate:
    return Gate(proxy_actor(dict(st.context.headers.items()), st.context.ip_address))


def session_gate() -> Gate:
    """Who this session's person is, by RESHOOT_AUTH; kept in session state for callbacks and fragment reruns."""
    mode = auth_mode()
    try:
        gate = (
            Gate(local_actor()) if mode is AuthMode.none else _oidc_gate() if mode is AuthMode.oidc else _proxy_gate()
        )
    except ReshootError as e:
        gate = Gate(None, e.message)
    if gate.actor is None:
        st.session_state.pop(ACTOR_KEY, None)
    else:
        st.session_state[ACTOR_KEY] = gate.actor
    return gate


def session_actor() -> Actor | None:
    """`current_actor()`'s source in the dashboard: this session's signed-in person. Streamlit runs widget callbacks
    and fragment reruns outside the page run, so they find the actor here; other threads (job workers) get None."""
    if get_script_run_ctx(suppress_warning=True) is None:
        return None
    if auth_mode() is AuthMode.none:
        return local_actor()
    actor = st.session_state.get(ACTOR_KEY)
    if actor is None:
        raise unauthenticated("This session is not signed in")
    return actor


def install_actor_source() -> None:
    set_actor_source(session_actor)


def sign_in_page(reason: str | None = None) -> None:
    """All an unsigned visitor sees."""
    st.title("Reshoot")
    if reason:
        st.error(reason, icon=":material/lock:")
    if auth_mode() is AuthMode.oidc:
        st.write("Sign in to review images.")
        st.button("Sign in", type="primary", icon=":material/login:", on_click=st.login, key="auth_sign_in")
        if reason:
            st.button("Sign out", on_click=st.logout, key="auth_sign_out_blocked")
    elif not reason:
        st.info("Open Reshoot through your organisation's sign-in proxy.")


def identity_sidebar(actor: Actor) -> None:
    """`Name · role`, the email, and Sign out (oidc: `st.logout`; proxy: the proxy's sign-out URL)."""
    mode = auth_mode()
    with st.sidebar:
        st.markdown(f"**{escape_markdown(actor.label)}** · {actor.role}")
        detail = "Local user (RESHOOT_AUTH=none)" if mode is AuthMode.none else actor.email
        st.caption(escape_markdown(detail))
        if mode is AuthMode.oidc:
            st.button("Sign out", icon=":material/logout:", on_click=st.logout, key="auth_sign_out")
        elif mode is AuthMode.proxy:
            st.link_button("Sign out", get_settings().proxy_sign_out_url, icon=":material/logout:")
