"""The dashboard with RESHOOT_AUTH=oidc in AppTest (`at.user` stands in for st.login): the sign-in page for
unsigned visitors, the person and role in the sidebar, buttons a viewer may not use disabled with the reason."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from services import auth
from services.config import get_settings
from services.identity import Actor, Role, acting_as
from services.jobs import wait_for_job
from tests.pages.conftest import open_page, texts
from ui.actions_panel import panel_key
from ui.hero_state import card_key
from ui.people import add_user_button_key, token_key, user_key

ADMIN = Actor(email="ada@example.com", name="Ada", role=Role.admin)


@pytest.fixture
def oidc(monkeypatch, demo):
    monkeypatch.setenv("RESHOOT_AUTH", "oidc")
    get_settings.cache_clear()


def signed_in(user: dict | None, page: str | None = None, **query: str) -> AppTest:
    return open_page(page, user={"is_logged_in": True, **user} if user else {"is_logged_in": False}, **query)


def test_unsigned_visitors_see_only_the_sign_in_page(oidc):
    at = signed_in(None)
    assert [b.label for b in at.button] == ["Sign in"]
    assert "Work Items" not in texts(at) and not at.dataframe
    assert "auth_actor" not in at.session_state  # callbacks of this session act as nobody (session_actor raises)


def test_a_viewer_sees_who_they_are_and_cannot_regenerate(oidc):
    at = signed_in({"email": "Vic@Example.com", "name": "Vic"})
    sidebar = [m.value for m in at.sidebar.markdown] + [c.value for c in at.sidebar.caption]
    assert "**Vic** · viewer" in sidebar and "vic@example.com" in sidebar
    assert [b.label for b in at.sidebar.button] == ["Sign out"]
    at = signed_in({"email": "Vic@Example.com", "name": "Vic"}, "pages/work_item.py", id="7")
    regenerate = at.button(key=card_key("regenerate", "7", "OL-1"))
    assert regenerate.disabled and regenerate.help.startswith("Needs the reviewer role; you are a viewer.")
    generate = at.button(key=panel_key("generate", "7"))
    assert generate.disabled and "Needs the reviewer role" in generate.help
    with acting_as(ADMIN):
        [vic] = [u for u in auth.list_users() if u.email == "vic@example.com"]
    assert (vic.role, vic.name) == ("viewer", "Vic") and vic.last_seen_at


def test_a_reviewer_regenerates_as_themselves(oidc, monkeypatch):
    monkeypatch.setenv("RESHOOT_ROLE_GROUPS", "designers=reviewer")
    get_settings.cache_clear()
    at = signed_in({"email": "rey@example.com", "name": "Rey", "groups": ["designers"]}, "pages/work_item.py", id="7")
    button = at.button(key=card_key("regenerate", "7", "OL-1"))
    assert not button.disabled
    button.click().run()  # the click's callback runs outside the page run: it still acts as Rey
    from services.jobs import list_jobs

    [job] = list_jobs()
    assert job.requested_by == "rey@example.com"
    wait_for_job(job.id, timeout=120)


def test_settings_for_a_non_admin_is_their_tokens_only(oidc):
    at = signed_in({"email": "rey@example.com", "name": "Rey"}, "pages/settings.py")
    shown = texts(at)
    assert "managed by admins" in shown and "**Database**" not in shown
    at.text_input(key=token_key("name")).input("laptop").run()
    at.button(key=token_key("create")).click().run()
    [token] = [c.value for c in at.code]
    assert token.startswith("rsh_") and auth.actor_for_token(token).email == "rey@example.com"
    at.run()
    assert not at.code  # shown once


def test_admin_manages_users_on_settings(oidc, monkeypatch):
    monkeypatch.setenv("RESHOOT_ROLE_GROUPS", "leads=admin")
    get_settings.cache_clear()
    at = signed_in({"email": "ada@example.com", "name": "Ada", "groups": ["leads"]}, "pages/settings.py")
    assert "**Database**" in texts(at)
    at.text_input(key=user_key("email")).input("new@example.com")
    at.selectbox(key=user_key("role")).select(Role.reviewer)
    at.button(key=add_user_button_key()).click().run()
    at.selectbox(key=user_key("pick")).select("new@example.com").run()
    at.selectbox(key=user_key("new_role")).select(Role.admin)
    at.button(key=user_key("save_role")).click().run()
    at.button(key=user_key("toggle")).click().run()
    with acting_as(ADMIN):
        [new] = [u for u in auth.list_users() if u.email == "new@example.com"]
    assert (new.role, new.role_set_by, new.disabled) == ("admin", "ada@example.com", True)
