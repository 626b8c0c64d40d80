"""The API with sign-in on: bearer tokens, roles per route, proxy identity from trusted addresses only, cross-site
requests refused before anything changes, and the local user with RESHOOT_AUTH=none."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from services import auth
from services.api import create_app
from services.config import get_settings
from services.identity import Actor, Role, acting_as
from services.jobs import list_jobs
from services.lifestyle import list_references
from services.read_models.auth import NewToken
from services.storyboard import get_sentence

GENERATE = "/api/work-items/7/generate-lifestyle-heroes"
REFERENCES = "/api/work-items/7/lifestyle-hero-references"
REGENERATE = "/api/v1/sentences/sent_001/regenerate-image"
ADMIN = Actor(email="ada@example.com", name="Ada", role=Role.admin)


def use(monkeypatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


@pytest.fixture
def tokens(demo):
    """One token per role."""
    made = {}
    with acting_as(ADMIN):
        for role in Role:
            email = f"{role}@example.com"
            auth.add_user(options=auth.NewUser(email=email, role=role))
            made[role] = auth.create_token(options=auth.CreateTokenOptions(user_email=email, name="test"))
    return made


@pytest.fixture
def signed_in(monkeypatch, tokens):
    use(monkeypatch, RESHOOT_AUTH="oidc")
    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c


def bearer(token: NewToken) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.token}"}


def test_no_token_is_401_for_every_route(signed_in):
    for method, url in (
        ("GET", "/api/work-items"),
        ("GET", "/api/v1/jobs/job_x"),
        ("POST", GENERATE),
        ("DELETE", f"{REFERENCES}/ref_x"),
        ("GET", "/assets/fcc/lifestyle/7/OL-1/desktop.png"),
    ):
        r = signed_in.request(method, url)
        assert r.status_code == 401, (method, url)
        assert r.json()["error"] == "UNAUTHENTICATED" and r.headers["www-authenticate"] == "Bearer"
    assert signed_in.get("/api/work-items", headers={"Authorization": "Bearer rsh_made-up"}).status_code == 401
    assert signed_in.get("/openapi.json").status_code == 200  # describes the API, changes nothing


def test_viewer_reads_but_may_not_post_reviewer_may(signed_in, tokens):
    viewer, reviewer = bearer(tokens[Role.viewer]), bearer(tokens[Role.reviewer])
    assert signed_in.get("/api/work-items/7", headers=viewer).status_code == 200
    r = signed_in.post(GENERATE, json={"dryRun": True}, headers=viewer)
    assert r.status_code == 403
    assert r.json() == {
        "error": "FORBIDDEN",
        "details": {"needs": "reviewer", "role": "viewer", "user": "viewer@example.com"},
    }
    assert signed_in.put("/api/v1/sentences/sent_001", json={"imagePrompt": "x"}, headers=viewer).status_code == 403
    assert get_sentence("sent_001").image_prompt != "x"

    r = signed_in.post(GENERATE, json={"dryRun": True}, headers=reviewer)
    assert r.status_code == 200 and r.json()["ok"] is True
    r = signed_in.post(REGENERATE, content=b'{"seed": 5}', headers=reviewer)
    assert r.status_code == 202
    assert list_jobs(kind="sentence_image")[0].requested_by == "reviewer@example.com"
    # Deleting a reference is an admin's
    assert signed_in.delete(f"{REFERENCES}/ref_nope", headers=reviewer).status_code == 403
    assert signed_in.delete(f"{REFERENCES}/ref_nope", headers=bearer(tokens[Role.admin])).status_code == 404


def test_a_revoked_token_stops_at_once(signed_in, tokens):
    reviewer = tokens[Role.reviewer]
    assert signed_in.get("/api/work-items", headers=bearer(reviewer)).status_code == 200
    with acting_as(ADMIN):
        auth.revoke_token(reviewer.id)
    r = signed_in.get("/api/work-items", headers=bearer(reviewer))
    assert r.status_code == 401 and r.json()["details"]["reason"] == "Unknown or revoked API token"


def test_assets_open_only_when_configured(monkeypatch, tokens):
    use(monkeypatch, RESHOOT_AUTH="oidc", RESHOOT_PUBLIC_ASSETS="true")
    with TestClient(create_app(), raise_server_exceptions=False) as c:
        assert c.get("/assets/fcc/lifestyle/7/OL-1/desktop.png").status_code == 404  # past sign-in: just not there
        assert c.get("/api/work-items").status_code == 401


def test_websocket_needs_a_token_and_takes_it_as_a_query_parameter(signed_in, tokens):
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        signed_in.websocket_connect("/api/v1/projects/coffee-origins/events"),
    ):
        pass
    assert refused.value.code == 1008
    token = tokens[Role.viewer].token
    with signed_in.websocket_connect(f"/api/v1/projects/coffee-origins/events?access_token={token}") as ws:
        ws.close()


@pytest.mark.parametrize("peer,status", [("127.0.0.1", 200), ("192.0.2.9", 401)])
def test_proxy_headers_count_only_from_a_trusted_address(monkeypatch, tokens, peer, status):
    use(monkeypatch, RESHOOT_AUTH="proxy", RESHOOT_TRUSTED_PROXIES="127.0.0.1", RESHOOT_ROLE_GROUPS="art=reviewer")
    headers = {"X-Forwarded-Email": "pat@example.com", "X-Forwarded-User": "pat", "X-Forwarded-Groups": "art"}
    with TestClient(create_app(), raise_server_exceptions=False, client=(peer, 40000)) as c:
        r = c.post(GENERATE, json={"shotIds": ["OL-1"]}, headers={**headers, "Prefer": "respond-async"})
        assert r.status_code == (202 if status == 200 else 401), r.text
        if status == 200:
            assert list_jobs()[0].requested_by == "pat@example.com"
        else:
            assert r.json()["error"] == "UNAUTHENTICATED" and list_jobs() == []
        # A token still works from anywhere
        assert c.get("/api/work-items", headers=bearer(tokens[Role.viewer])).status_code == 200


def test_cross_site_requests_are_refused_and_change_nothing(client, demo, png, monkeypatch):
    before = get_sentence("sent_001")
    attacks = [
        ("POST", GENERATE, {"content": b'{"shotIds":["OL-1"]}', "headers": {"Content-Type": "text/plain"}}),
        ("POST", REFERENCES, {"data": {"shotId": "OL-1"}, "files": [("files", ("a.png", png(), "image/png"))]}),
        ("POST", REGENERATE, {"content": b'{"seed": 1}', "headers": {"Content-Type": "text/plain"}}),
        ("PUT", "/api/v1/sentences/sent_001", {"json": {"imagePrompt": "pwned"}}),
        ("DELETE", f"{REFERENCES}/ref_x", {}),
    ]
    for origin_headers in (
        {"Origin": "http://127.0.0.1:9999", "Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "null"},
    ):
        for method, url, kwargs in attacks:
            headers = {**kwargs.get("headers", {}), **origin_headers}
            r = client.request(method, url, **{**kwargs, "headers": headers})
            assert r.status_code == 403, (method, url, origin_headers, r.text)
            assert r.json()["error"] == "CSRF_REJECTED"
    assert list_jobs() == [] and list_references("7") == [] and get_sentence("sent_001") == before

    # The API's own origin, and configured ones, pass; reading is never refused
    own = {"Host": "127.0.0.1:8000", "Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-origin"}
    assert client.post(GENERATE, json={"dryRun": True}, headers=own).status_code == 200
    # (CORS stays closed, so the foreign page cannot read the answer)
    assert (
        client.get("/api/work-items", headers={"Origin": "https://evil.example", "Host": "127.0.0.1:8000"}).status_code
        == 200
    )
    use(monkeypatch, RESHOOT_API_CORS_ORIGINS="https://review.example")
    with TestClient(create_app(), raise_server_exceptions=False) as c:
        r = c.post(
            GENERATE, json={"dryRun": True}, headers={"Origin": "https://review.example", "Host": "127.0.0.1:8000"}
        )
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://review.example"


def test_websocket_refuses_foreign_origins(client, demo):
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/api/v1/projects/coffee-origins/events", headers={"Origin": "http://127.0.0.1:1"}),
    ):
        pass
    own = {"Origin": "http://127.0.0.1:8000", "Host": "127.0.0.1:8000"}
    with client.websocket_connect("/api/v1/projects/coffee-origins/events", headers=own) as ws:
        ws.close()


def test_cors_stays_closed_unless_configured(client, demo):
    r = client.options(GENERATE, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers


def test_none_mode_acts_as_the_local_user(monkeypatch, demo):
    use(monkeypatch, RESHOOT_USER="sam")
    with TestClient(create_app(), raise_server_exceptions=False) as c:
        assert c.post(GENERATE, json={"shotIds": ["OL-1"]}, headers={"Prefer": "respond-async"}).status_code == 202
    assert list_jobs()[0].requested_by == "sam"


def test_every_route_declares_the_role_it_needs():
    needed = {}
    for route in create_app().routes:
        if isinstance(route, (APIRoute, APIWebSocketRoute)):
            roles = [
                d.dependency.required_role
                for d in route.dependant.dependencies
                if hasattr(d.dependency, "required_role")
            ]
            methods = getattr(route, "methods", None) or {"WEBSOCKET"}
            needed[(route.path, tuple(sorted(methods)))] = max(roles, key=lambda r: r.rank) if roles else None
    assert None not in needed.values(), needed
    for (path, methods), role in needed.items():
        if set(methods) & {"POST", "PUT", "DELETE", "PATCH"}:
            assert role.allows(Role.reviewer), (path, methods, role)


def test_none_mode_refuses_browser_requests_that_arrive_by_dns_rebinding(client, demo):
    """A foreign name resolved to 127.0.0.1: the page counts as same-origin, so only the Host gives it away."""
    rebound = {"Host": "rebind.example:8000", "Origin": "http://rebind.example:8000", "Sec-Fetch-Site": "same-origin"}
    r = client.post(GENERATE, json={"shotIds": ["OL-1"]}, headers=rebound)
    assert r.status_code == 403 and r.json()["error"] == "CSRF_REJECTED" and list_jobs() == []
    assert (
        client.get("/api/work-items", headers={"Host": "rebind.example:8000", "Sec-Fetch-Mode": "cors"}).status_code
        == 403
    )
    own = {"Host": "127.0.0.1:8000", "Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-origin"}
    assert client.post(GENERATE, json={"dryRun": True}, headers=own).status_code == 200
    assert (
        client.get("/api/work-items", headers={"Host": "localhost:8000", "Sec-Fetch-Mode": "cors"}).status_code == 200
    )
