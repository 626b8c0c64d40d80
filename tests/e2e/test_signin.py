"""Signing in for real, in headless Chromium: `oidc-provider-mock` as the identity provider and `streamlit run` with
RESHOOT_AUTH=oidc and a generated secrets file (outside the repo); then RESHOOT_AUTH=proxy with identity headers
reaching the dashboard from a trusted and from an untrusted address. Finally: the dashboard refuses to start on
0.0.0.0 with RESHOOT_AUTH=none."""

from __future__ import annotations

import json
import secrets
import socket
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.servers import PROJECT_ROOT, free_port, running

from .helpers import TIMEOUT, button, main_area, tooltip_of, wait_idle, wait_until
from .server import VIEWPORT, prepare_data, running_app, server_env

USERS = [
    {"sub": "vic", "email": "vic@example.com", "name": "Vic Viewer"},
    {"sub": "rey", "email": "rey@example.com", "name": "Rey Reviewer", "groups": ["designers"]},
]


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def _answers(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    """oidc-provider-mock on a free loopback port, with Vic (no groups) and Rey (group `designers`)."""
    port = free_port()
    args = [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)]
    for user in USERS:
        args += ["--user-claims", json.dumps(user)]
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("oidc") / "provider.log"
    with running(args, ready=lambda: _answers(f"{url}/.well-known/openid-configuration"), log_path=log):
        yield url


@pytest.fixture(scope="module")
def oidc_app(tmp_path_factory, provider):
    """The dashboard with RESHOOT_AUTH=oidc; designers are reviewers, everyone else a viewer."""
    folder = tmp_path_factory.mktemp("oidc-app")
    data_dir = folder / "data"
    prepare_data(data_dir)
    port = free_port()
    secrets_file = folder / "secrets.toml"  # a temporary file: no secrets in the repo
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
        'client_id = "reshoot-test"\n'
        f'client_secret = "{secrets.token_urlsafe(16)}"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
    )
    env = {"RESHOOT_AUTH": "oidc", "RESHOOT_ROLE_GROUPS": "designers=reviewer", "RESHOOT_DEFAULT_ROLE": "viewer"}
    with running_app(data_dir, port=port, env=env, extra_args=("--secrets.files", str(secrets_file))) as app:
        yield app


def new_page(browser) -> Page:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    page.route("**/*", lambda route: route.continue_() if "127.0.0.1" in route.request.url else route.abort())
    return page


def sign_in(page: Page, app_url: str, sub: str) -> None:
    """The sign-in page's button, the provider's form (pick the predefined user), and back on the dashboard."""
    page.goto(app_url)
    wait_idle(page)
    expect(main_area(page).get_by_role("heading", name="Reshoot")).to_be_visible()
    button(main_area(page), "Sign in").click()
    page.locator(f'button[name="sub"][value="{sub}"]').click()
    page.wait_for_url(f"{app_url}/**")
    wait_idle(page)


def sidebar_text(page: Page) -> str:
    return page.locator('[data-testid="stSidebarUserContent"]').inner_text()


def decisions(data_dir: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(data_dir / "reshoot.db") as db:
        return db.execute("SELECT reviewer_email, decision FROM review_decision ORDER BY id").fetchall()


def test_oidc_sign_in_roles_approval_and_sign_out(browser, oidc_app):
    viewer = new_page(browser)
    # Unsigned: only the sign-in page
    viewer.goto(f"{oidc_app.url}/work_item?id=21")
    wait_idle(viewer)
    expect(button(main_area(viewer), "Sign in")).to_be_visible()
    assert viewer.locator('[data-testid="stSidebarNav"]').count() == 0
    assert "Lifestyle Hero Preview" not in main_area(viewer).inner_text()

    # A viewer: name and role in the sidebar; Regenerate disabled, its tooltip says why
    sign_in(viewer, oidc_app.url, "vic")
    wait_until(lambda: "Vic Viewer · viewer" in sidebar_text(viewer), message="the sidebar never named the viewer")
    assert "vic@example.com" in sidebar_text(viewer)
    viewer.goto(f"{oidc_app.url}/work_item?id=21")
    wait_idle(viewer)
    expect(button(main_area(viewer), "Regenerate shot").first).to_be_disabled()
    # Images load for the signed-in viewer; the same URL without the sign-in cookie is refused
    image = main_area(viewer).locator("img[src*='/assets/fcc/lifestyle/21/']").first
    wait_until(lambda: image.evaluate("i => i.complete && i.naturalWidth > 0"), message="a hero image never loaded")
    assert _status(image.get_attribute("src")) == 401
    generate = button(main_area(viewer), "Generate Lifestyle Hero Images")
    expect(generate).to_be_disabled()
    expect(tooltip_of(viewer, generate)).to_contain_text("Needs the reviewer role; you are a viewer.")

    # A reviewer (from the provider's group) approves: the decision records that person
    reviewer = new_page(browser)
    sign_in(reviewer, oidc_app.url, "rey")
    wait_until(lambda: "Rey Reviewer · reviewer" in sidebar_text(reviewer), message="the sidebar never named Rey")
    reviewer.goto(f"{oidc_app.url}/sku_switcher?id=21")
    wait_idle(reviewer)
    before = len(decisions(oidc_app.data_dir))
    button(main_area(reviewer), "Approve").first.click()
    wait_idle(reviewer)
    wait_until(lambda: len(decisions(oidc_app.data_dir)) > before, message="the approval was not saved")
    assert decisions(oidc_app.data_dir)[-1] == ("rey@example.com", "approved")
    expect(main_area(reviewer)).to_contain_text("Approved by Rey Reviewer")
    reviewer.screenshot(path=str(oidc_app.data_dir.parent / "signed-in-reviewer.png"))

    # Sign out: the provider's end-session page, then the sign-in page again
    button(reviewer.locator('[data-testid="stSidebarUserContent"]'), "Sign out").click()
    reviewer.get_by_role("button", name="End session").click()
    reviewer.goto(oidc_app.url)
    wait_idle(reviewer)
    expect(button(main_area(reviewer), "Sign in")).to_be_visible()
    assert reviewer.locator('[data-testid="stSidebarNav"]').count() == 0
    viewer.context.close()
    reviewer.context.close()


def _non_loopback_address() -> str:
    """An address of this machine that is not loopback (the proxy test reaches the dashboard through it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        return probe.getsockname()[0]


@pytest.fixture(scope="module")
def proxy_app(tmp_path_factory):
    """RESHOOT_AUTH=proxy, trusting 127.0.0.1 only, listening on every interface (allowed with sign-in on)."""
    data_dir = tmp_path_factory.mktemp("proxy-app") / "data"
    prepare_data(data_dir)
    env = {"RESHOOT_AUTH": "proxy", "RESHOOT_TRUSTED_PROXIES": "127.0.0.1", "FORWARDED_ALLOW_IPS": ""}
    with running_app(data_dir, address="0.0.0.0", env=env) as app:
        yield app


def test_proxy_headers_count_only_from_a_trusted_address(browser, proxy_app):
    headers = {"X-Forwarded-Email": "pat@example.com", "X-Forwarded-User": "pat", "X-Forwarded-For": "203.0.113.7"}
    context = browser.new_context(viewport=VIEWPORT, extra_http_headers=headers)
    context.set_default_timeout(TIMEOUT)
    trusted = context.new_page()
    trusted.goto(proxy_app.url)  # 127.0.0.1: the trusted proxy's address
    wait_idle(trusted)
    wait_until(lambda: "pat · viewer" in sidebar_text(trusted), message="the proxy's user was not signed in")
    expect(main_area(trusted).get_by_role("heading", name="Work Items")).to_be_visible()
    hero = f"{proxy_app.url}/assets/fcc/lifestyle/21/HO-1/desktop.png"
    assert trusted.request.get(hero).status == 200  # with the proxy's headers (the context adds them)
    assert _status(hero) == 401  # the same URL without them

    port = proxy_app.url.rsplit(":", 1)[1]
    untrusted = context.new_page()
    untrusted.goto(f"http://{_non_loopback_address()}:{port}")  # the same headers from an address nobody trusts
    wait_idle(untrusted)
    expect(main_area(untrusted)).to_contain_text("did not come through a trusted proxy")
    assert (
        untrusted.request.get(
            f"http://{_non_loopback_address()}:{port}/assets/fcc/lifestyle/21/HO-1/desktop.png"
        ).status
        == 401
    )
    assert untrusted.locator('[data-testid="stSidebarNav"]').count() == 0
    assert "Work Items" not in main_area(untrusted).inner_text()
    context.close()


def test_dashboard_refuses_to_start_on_all_interfaces_without_sign_in(tmp_path):
    env = {**server_env(tmp_path / "data"), "RESHOOT_AUTH": "none"}
    args = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "dashboard.py",
        "--server.address",
        "0.0.0.0",
        "--server.port",
        str(free_port()),
        "--server.headless",
        "true",
    ]
    done = subprocess.run(args, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Refusing to start the dashboard on 0.0.0.0: RESHOOT_AUTH=none has no sign-in" in done.stderr
    assert "RESHOOT_AUTH=oidc" in done.stderr


def test_api_refuses_to_start_on_all_interfaces_without_sign_in(tmp_path):
    env = {**server_env(tmp_path / "data"), "RESHOOT_AUTH": "none"}
    args = [sys.executable, "-m", "services", "api", "--host", "0.0.0.0", "--port", str(free_port())]
    done = subprocess.run(args, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and json.loads(done.stdout)["error"] == "UNSAFE_BIND"
    assert "Refusing to start the API on 0.0.0.0" in done.stderr
