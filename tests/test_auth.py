"""services/auth.py: roles enforced by the use cases themselves, users, tokens (hashed, revocable), proxy trust,
and the loopback-only rule of RESHOOT_AUTH=none."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from services import auth, lifestyle, storyboard, versions
from services.config import SettingError, get_settings
from services.db import session_scope
from services.errors import ReshootError
from services.identity import Actor, Role, acting_as, current_actor, local_actor
from services.importer import import_data
from services.jobs import retry_job
from tests.servers import PROJECT_ROOT

VIEWER = Actor(email="vic@example.com", name="Vic", role=Role.viewer)
REVIEWER = Actor(email="rey@example.com", name="Rey", role=Role.reviewer)
ADMIN = Actor(email="ada@example.com", name="Ada", role=Role.admin)


def use(monkeypatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


# Every mutating use case and the lowest role allowed to run it: a viewer is refused each one before it changes anything.
GUARDED = [
    (
        lambda: lifestyle.generate_lifestyle_heroes(
            work_item_id="7", options=lifestyle.GenerateHeroesOptions(dry_run=True)
        ),
        Role.reviewer,
    ),
    (
        lambda: lifestyle.add_references(
            work_item_id="7", options=lifestyle.ReferenceUpload(shot_id="OL-1", files=[("a.png", b"x")])
        ),
        Role.reviewer,
    ),
    (lambda: lifestyle.delete_reference("ref_nope"), Role.admin),
    (lambda: lifestyle.set_shot_locked("7", "OL-1", True), Role.reviewer),
    (
        lambda: storyboard.update_sentence(
            sentence_id="sent_001", options=storyboard.UpdateSentenceOptions(image_prompt="x")
        ),
        Role.reviewer,
    ),
    (lambda: storyboard.regenerate_sentence_image(sentence_id="sent_001"), Role.reviewer),
    (
        lambda: versions.set_review(version_id=1, options=versions.ReviewDecisionOptions(state="approved")),
        Role.reviewer,
    ),
    (lambda: versions.decide_many(state="approved", version_ids=[999999]), Role.reviewer),
    (lambda: versions.decide_many(state="rejected", work_item_id="7", note="x"), Role.reviewer),
    (lambda: versions.restore_version(1), Role.reviewer),
    (lambda: versions.set_favourite(1, True), Role.reviewer),
    (lambda: versions.set_locked(1, True), Role.reviewer),
    (lambda: import_data({"workItems": []}), Role.admin),
    (lambda: retry_job("job_nope"), Role.reviewer),
    (lambda: auth.list_users(), Role.admin),
    (lambda: auth.add_user(options=auth.NewUser(email="x@example.com")), Role.admin),
    (lambda: auth.set_role(options=auth.SetRoleOptions(email="x@example.com", role="admin")), Role.admin),
    (lambda: auth.set_disabled(options=auth.SetDisabledOptions(email="x@example.com")), Role.admin),
]


@pytest.mark.parametrize("call,needed", GUARDED)
def test_use_cases_check_the_role_themselves(demo, call, needed):
    for actor in (VIEWER, REVIEWER, ADMIN):
        with acting_as(actor):
            if actor.role.allows(needed):
                try:
                    call()
                except ReshootError as e:  # e.g. 404 for the made-up ids: past the role check
                    assert e.code != "FORBIDDEN"
            else:
                with pytest.raises(ReshootError) as refused:
                    call()
                assert (refused.value.code, refused.value.status) == ("FORBIDDEN", 403)
                assert refused.value.details == {"needs": str(needed), "role": str(actor.role), "user": actor.email}
                assert f"Needs the {needed} role" in refused.value.message


def test_outside_any_sign_in_the_local_user_acts_as_admin(monkeypatch):
    use(monkeypatch, RESHOOT_USER="sam")
    assert current_actor() == local_actor() == Actor(email="sam", name="sam", role=Role.admin)
    assert auth.why_not(Role.admin) is None


def test_reviewer_retries_own_job_only(demo):
    with acting_as(REVIEWER):
        mine = lifestyle.start_heroes_job(
            work_item_id="7", options=lifestyle.GenerateHeroesOptions(shot_ids=["OL-1"])
        ).job_id
    with acting_as(ADMIN):
        theirs = lifestyle.start_heroes_job(
            work_item_id="7", options=lifestyle.GenerateHeroesOptions(shot_ids=["OL-2"])
        ).job_id
    from services.jobs import get_job, wait_for_job

    wait_for_job(mine, timeout=60), wait_for_job(theirs, timeout=60)
    assert get_job(mine).requested_by == REVIEWER.email
    with acting_as(REVIEWER):
        retry_job(mine)
        with pytest.raises(ReshootError) as refused:
            retry_job(theirs)
    assert refused.value.code == "FORBIDDEN" and refused.value.details["needs"] == "admin"


def test_users_cli_add_set_role_list_disable(db, data_dir):
    def cli(*args: str) -> subprocess.CompletedProcess:
        env = {"RESHOOT_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin", "RESHOOT_USER": "root-admin"}
        return subprocess.run(
            [sys.executable, "-m", "services", *args],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    added = cli("users", "add", "Ana@Example.com", "--name", "Ana", "--role", "reviewer")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout) | {"createdAt": None} == {
        "email": "ana@example.com",
        "name": "Ana",
        "role": "reviewer",
        "roleSetBy": "root-admin",
        "disabled": False,
        "createdAt": None,
        "lastSeenAt": None,
    }
    assert json.loads(cli("users", "set-role", "ana@example.com", "admin").stdout)["role"] == "admin"
    assert json.loads(cli("users", "disable", "ana@example.com").stdout)["disabled"] is True
    [listed] = json.loads(cli("users", "list").stdout)
    assert (listed["email"], listed["role"], listed["disabled"]) == ("ana@example.com", "admin", True)
    again = cli("users", "add", "ana@example.com")
    assert again.returncode == 1 and json.loads(again.stdout)["error"] == "USER_EXISTS"
    bad = cli("users", "set-role", "nobody@example.com", "admin")
    assert bad.returncode == 1 and json.loads(bad.stdout)["error"] == "USER_NOT_FOUND"


def test_new_user_options_normalise_and_refuse_with_the_field_named(db, capsys):
    user = auth.NewUser(email=" Ana@Example.COM ", name="  Ana ", role=" Reviewer ")
    assert (user.email, user.name, user.role) == ("ana@example.com", "Ana", Role.reviewer)
    assert auth.NewUser(email="bo@example.com").role is Role.viewer
    for values, field in (({"email": "two words"}, "email"), ({"email": "a@b.c", "role": "boss"}, "role")):
        with pytest.raises(ValidationError) as refused:
            auth.NewUser(**values)
        assert [e["loc"] for e in refused.value.errors()] == [(field,)]

    assert auth.SetRoleOptions(email="Ana@Example.com", role="ADMIN").role is Role.admin
    with pytest.raises(ValidationError):
        auth.SetRoleOptions(email="ana@example.com", role="boss")
    with pytest.raises(ValidationError) as refused:
        auth.CreateTokenOptions(user_email="two words")
    assert [e["loc"] for e in refused.value.errors()] == [("user_email",)]

    from services.cli import main

    assert main(["users", "add", "not an email"]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert answer["error"] == "INVALID_REQUEST" and answer["details"][0]["field"] == "email"
    assert main(["users", "add", "ana@example.com", "--role", "reviewer"]) == 0
    assert json.loads(capsys.readouterr().out)["role"] == "reviewer"


def test_sign_in_creates_the_user_with_default_or_group_role_and_admin_roles_stick(db, monkeypatch):
    use(monkeypatch, RESHOOT_DEFAULT_ROLE="viewer", RESHOOT_ROLE_GROUPS="art-leads=admin, designers=reviewer")
    assert auth.sign_in(email="New@Example.com", name="New").role is Role.viewer
    assert auth.sign_in(email="des@example.com", groups=["designers"]).role is Role.reviewer
    assert auth.sign_in(email="des@example.com", groups=["designers", "art-leads"]).role is Role.admin  # follows groups
    with acting_as(ADMIN):
        auth.set_role(
            options=auth.SetRoleOptions(email="des@example.com", role="viewer")
        )  # set by hand: stays whatever the groups say
    assert auth.sign_in(email="des@example.com", groups=["art-leads"]).role is Role.viewer
    with acting_as(ADMIN):
        auth.set_disabled(options=auth.SetDisabledOptions(email="new@example.com"))
        [new] = [u for u in auth.list_users() if u.email == "new@example.com"]
    assert new.last_seen_at and new.name == "New"
    with pytest.raises(ReshootError) as refused:
        auth.sign_in(email="new@example.com")
    assert refused.value.code == "ACCOUNT_DISABLED"


def test_bad_auth_settings_name_the_variable(monkeypatch):
    use(monkeypatch, RESHOOT_AUTH="ldap")
    with pytest.raises(SettingError, match='RESHOOT_AUTH must be one of none, oidc, proxy, got "ldap"'):
        get_settings()
    use(monkeypatch, RESHOOT_AUTH="none", RESHOOT_ROLE_GROUPS="admins")
    with pytest.raises(SettingError, match=r'RESHOOT_ROLE_GROUPS must be group=role pairs.*, got "admins"'):
        get_settings()


def test_tokens_are_hashed_listed_revocable_and_last_use_is_recorded(db):
    with acting_as(ADMIN):
        auth.add_user(options=auth.NewUser(email="rey@example.com", name="Rey", role="reviewer"))
        created = auth.create_token(options=auth.CreateTokenOptions(user_email="rey@example.com", name="script"))
    assert created.token.startswith("rsh_") and len(created.token) > 40
    with session_scope() as s:
        stored = [tuple(row) for row in s.connection().execute(text("SELECT * FROM api_tokens"))]
    assert created.token not in repr(stored)  # only the keyed hash, and a short prefix to recognise it
    assert auth.hash_token(created.token) in repr(stored)

    actor = auth.actor_for_token(created.token)
    assert (actor.email, actor.role) == ("rey@example.com", Role.reviewer)
    with acting_as(actor):
        [listed] = auth.list_tokens()
        assert listed.last_used_at and listed.name == "script" and "token" not in listed.model_dump(by_alias=True)
        with pytest.raises(ReshootError):
            auth.list_tokens(options=auth.ListTokensOptions(all_users=True))  # everyone's: admin only
        auth.revoke_token(created.id)
    with pytest.raises(ReshootError) as refused:
        auth.actor_for_token(created.token)
    assert (refused.value.code, refused.value.status) == ("UNAUTHENTICATED", 401)


def test_a_disabled_users_tokens_stop_and_others_tokens_need_admin(db):
    with acting_as(ADMIN):
        auth.add_user(options=auth.NewUser(email="rey@example.com", role="reviewer"))
        auth.add_user(options=auth.NewUser(email="vic@example.com", role="viewer"))
        token = auth.create_token(options=auth.CreateTokenOptions(user_email="rey@example.com")).token
    with acting_as(VIEWER):
        with pytest.raises(ReshootError) as refused:
            auth.create_token(options=auth.CreateTokenOptions(user_email="rey@example.com"))
        assert refused.value.code == "FORBIDDEN"
        own = auth.create_token()
    assert auth.actor_for_token(own.token).role is Role.viewer
    with acting_as(ADMIN):
        auth.set_disabled(options=auth.SetDisabledOptions(email="rey@example.com"))
    with pytest.raises(ReshootError):
        auth.actor_for_token(token)
    with pytest.raises(ReshootError):
        auth.actor_for_token("rsh_" + "x" * 43)


def test_token_key_comes_from_the_setting_or_a_private_file(db, data_dir, monkeypatch):
    from_file = auth.hash_token("rsh_abc")
    assert (data_dir / "token-secret").stat().st_mode & 0o777 == 0o600
    use(monkeypatch, RESHOOT_TOKEN_SECRET="shared-between-machines")
    assert auth.hash_token("rsh_abc") != from_file


@pytest.mark.parametrize(
    "peer,trusted",
    [
        (None, True),
        ("127.0.0.1", True),
        ("::1", True),
        ("10.1.2.3", True),
        ("10.2.0.1", False),
        ("192.0.2.9", False),
        ("testclient", False),
    ],
)
def test_trusted_proxy_addresses_and_networks(monkeypatch, peer, trusted):
    use(monkeypatch, RESHOOT_TRUSTED_PROXIES="127.0.0.1,::1,10.1.0.0/16")
    assert auth.peer_is_trusted_proxy(peer) is trusted


def test_proxy_identity_from_oauth2_proxy_headers(db, monkeypatch):
    use(monkeypatch, RESHOOT_AUTH="proxy", RESHOOT_ROLE_GROUPS="reviewers=reviewer")
    headers = {
        "X-Forwarded-Email": "pat@example.com",
        "X-Forwarded-User": "pat",
        "X-Forwarded-Groups": "staff, reviewers",
    }
    assert auth.proxy_actor(headers, "127.0.0.1") == Actor(email="pat@example.com", name="pat", role=Role.reviewer)
    with pytest.raises(ReshootError) as refused:
        auth.proxy_actor(headers, "192.0.2.9")
    assert refused.value.code == "UNAUTHENTICATED" and "trusted proxy" in refused.value.details["reason"]
    with pytest.raises(ReshootError):
        auth.proxy_actor({"X-Other": "x"}, "127.0.0.1")


@pytest.mark.parametrize(
    "host,refused",
    [
        ("127.0.0.1", False),
        ("::1", False),
        ("localhost", False),
        ("0.0.0.0", True),
        ("", True),
        ("192.0.2.2", True),
        ("::", True),
    ],
)
def test_none_mode_binds_loopback_only(monkeypatch, host, refused):
    message = auth.unsafe_bind_message(host, server="API")
    assert (message is not None) is refused
    if refused:
        assert "RESHOOT_AUTH=oidc" in message and "127.0.0.1" in message
    use(monkeypatch, RESHOOT_AUTH="oidc")
    assert auth.unsafe_bind_message(host, server="API") is None
