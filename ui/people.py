"""Settings' people parts: your personal API tokens (everyone) and users with their roles (admins)."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st
from pydantic import ValidationError

from services import auth
from services.errors import ReshootError, invalid_from
from services.identity import Role
from services.read_models.auth import TokenPublic
from ui.permissions import lacks
from ui.toasts import queue_toast

NEW_TOKEN_KEY = "settings_new_token"


ADD_USER = "Add user"


def user_key(name: str) -> str:
    """The Settings page's people widgets: `email`, `name`, `role` and the `add` form; `pick`, `new_role`, …"""
    return f"settings_user_{name}"


def token_key(name: str) -> str:
    """The Settings page's API token widgets: `name`, `create`, `pick`, `revoke`."""
    return f"settings_token_{name}"


def add_user_button_key() -> str:
    """`Add user`: a form's submit button is keyed by Streamlit from its form's key and label."""
    return f"FormSubmitter:{user_key('add')}-{ADD_USER}"


def _when(value: datetime | None) -> datetime | None:
    """In UTC, as the table shows it (SQLite gives naive UTC values back)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)


def _create_token() -> None:
    name = (st.session_state.get(token_key("name")) or "").strip()
    try:
        created = auth.create_token(options=auth.CreateTokenOptions(name=name))
    except ReshootError as e:
        queue_toast("Couldn’t create the token", e.message, kind="error")
        return
    st.session_state[NEW_TOKEN_KEY] = created.token
    st.session_state[token_key("name")] = ""


def _revoke_token(token_id: str) -> None:
    try:
        auth.revoke_token(token_id)
    except ReshootError as e:
        queue_toast("Couldn’t revoke the token", e.message, kind="error")
        return
    queue_toast("Token revoked", "It stopped working at once.")


def tokens_panel() -> None:
    """Create (shown once), list and revoke personal tokens; admins may list everyone's."""
    if auth.auth_mode() is auth.AuthMode.none:
        st.caption(
            "API tokens matter once sign-in is on (RESHOOT_AUTH=oidc or proxy); until then the API listens "
            "on 127.0.0.1 only and acts as the local user."
        )
        return
    new_token = st.session_state.pop(NEW_TOKEN_KEY, None)
    if new_token:
        st.success(
            "Copy your new token now: it is shown only this once (Reshoot keeps only a hash).", icon=":material/key:"
        )
        st.code(new_token, language=None)
    name_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
    name_col.text_input("Token name", key=token_key("name"), placeholder="What it is for, e.g. build script")
    button_col.button(
        "Create token", icon=":material/add:", key=token_key("create"), on_click=_create_token, width="stretch"
    )
    everyone = not lacks(Role.admin) and st.toggle("Everyone's tokens", key="settings_tokens_all")
    tokens = auth.list_tokens(options=auth.ListTokensOptions(all_users=everyone))
    if not tokens:
        st.caption("No tokens yet. Scripts and the React client send one as `Authorization: Bearer <token>`.")
        return
    st.dataframe(
        [
            {
                "Name": t.name,
                "User": t.user,
                "Starts with": t.prefix,
                "Created": _when(t.created_at),
                "Last used": _when(t.last_used_at),
                "Revoked": _when(t.revoked_at),
            }
            for t in tokens
        ],
        hide_index=True,
        key="settings_tokens_table",
        column_config={
            c: st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm") for c in ("Created", "Last used", "Revoked")
        },
    )
    active = {t.id: t for t in tokens if not t.revoked_at}
    if active:
        pick_col, revoke_col = st.columns([3, 1], vertical_alignment="bottom")
        picked = pick_col.selectbox(
            "Revoke a token", list(active), key=token_key("pick"), format_func=lambda tid: _token_label(active[tid])
        )
        revoke_col.button(
            "Revoke",
            icon=":material/block:",
            key=token_key("revoke"),
            width="stretch",
            on_click=_revoke_token,
            args=(picked,),
        )


def _token_label(token: TokenPublic) -> str:
    return f"{token.name or 'unnamed'} · {token.prefix}… · {token.user}"


def _user_action(action: str) -> None:
    state = st.session_state
    try:
        if action == "add":
            new_user = auth.NewUser(
                email=state.get(user_key("email")) or "",
                name=state.get(user_key("name")) or "",
                role=state.get(user_key("role")) or Role.viewer,
            )
            auth.add_user(options=new_user)
            state[user_key("email")] = state[user_key("name")] = ""
        elif action == "role":
            auth.set_role(options=auth.SetRoleOptions(email=state[user_key("pick")], role=state[user_key("new_role")]))
        else:
            auth.set_disabled(
                options=auth.SetDisabledOptions(email=state[user_key("pick")], disabled=action == "disable")
            )
    except (ReshootError, ValidationError) as e:
        error = invalid_from(e) if isinstance(e, ValidationError) else e
        detail = error.details[0]["message"] if isinstance(error.details, list) and error.details else error.message
        queue_toast("Couldn’t change the user", detail, kind="error")
        return
    queue_toast("User saved", "The change applies from their next click.")


def users_panel() -> None:
    """Every user with role, last seen and state; add one, change a role, disable or enable (admins only)."""
    users = auth.list_users()
    if users:
        st.dataframe(
            [
                {
                    "Email": u.email,
                    "Name": u.name,
                    "Role": str(u.role),
                    "Role set by": u.role_set_by or "sign-in",
                    "Last seen": _when(u.last_seen_at),
                    "Disabled": u.disabled,
                }
                for u in users
            ],
            hide_index=True,
            key="settings_users_table",
            column_config={"Last seen": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")},
        )
        pick_col, role_col, buttons_col = st.columns([3, 2, 3], vertical_alignment="bottom")
        picked = pick_col.selectbox("User", [u.email for u in users], key=user_key("pick"))
        user = next(u for u in users if u.email == picked)
        role_col.selectbox("Role", list(Role), index=list(Role).index(user.role), key=user_key("new_role"))
        action = "enable" if user.disabled else "disable"
        with buttons_col.container(horizontal=True, gap="small"):  # whole labels at 1024 px
            st.button("Save role", key=user_key("save_role"), on_click=_user_action, args=("role",))
            st.button(action.capitalize(), key=user_key("toggle"), on_click=_user_action, args=(action,))
    with st.form(user_key("add"), border=True):
        st.markdown("**Add a user** (before their first sign-in, with a role)")
        email_col, name_col, role_col = st.columns([3, 2, 2])
        email_col.text_input("Email", key=user_key("email"))
        name_col.text_input("Name", key=user_key("name"))
        role_col.selectbox("Role", list(Role), index=1, key=user_key("role"))
        st.form_submit_button(ADD_USER, icon=":material/person_add:", on_click=_user_action, args=("add",))
