"""Cross-site requests in a real browser: a page served from another loopback port makes Chromium send the three
writes that once went through (a generation as a `no-cors` text/plain fetch, an upload as FormData, a regenerate)
and opens the WebSocket. The browser carries the person's identity as an SSO proxy would add it to every request
(RESHOOT_AUTH=proxy), so only the cross-site check stands in the way: each write gets 403 CSRF_REJECTED, the socket
is refused, and nothing changes. The spec's own client code, run on the API's origin, still works, with the proxy's
identity and with a personal token."""

from __future__ import annotations

import base64
import http.server
import io
import re
import sys
import threading
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page

from services import auth
from services.db import migrate
from services.demo import load_demo
from services.identity import Actor, Role, acting_as
from services.jobs import list_jobs
from services.lifestyle import list_references
from services.versions import list_versions
from tests.servers import PROJECT_ROOT, free_port, running

from .helpers import TIMEOUT
from .server import VIEWPORT, server_env

PROXY_IDENTITY = {"X-Forwarded-Email": "rey@example.com", "X-Forwarded-User": "rey"}


def png_base64(color: str) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


# What the spec's client sends: generate and regenerate (no Content-Type: text/plain) and an upload (FormData).
WRITES_JS = """
async ({api, mode, headers, png64}) => {
  const png = Uint8Array.from(atob(png64), c => c.charCodeAt(0));
  const form = new FormData();
  form.append("workItemId", "7");
  form.append("shotId", "OL-1");
  form.append("files", new Blob([png], {type: "image/png"}), "inspo.png");
  const send = (path, body, extra = {}) =>
    fetch(api + path, {method: "POST", mode, body, headers: {...headers, ...extra}})
      .then(r => r.type === "opaque" ? "opaque" : r.status, e => "error: " + e);
  return [
    await send("/api/work-items/7/generate-lifestyle-heroes", JSON.stringify({shotIds: ["OL-1"]}), {"Content-Type": "text/plain"}),
    await send("/api/work-items/7/lifestyle-hero-references", form),
    await send("/api/v1/sentences/sent_001/regenerate-image", JSON.stringify({seed: 7})),
  ];
}
"""

WEBSOCKET_JS = """
(url) => new Promise(resolve => {
  const socket = new WebSocket(url);
  socket.onopen = () => { socket.close(); resolve("open"); };
  socket.onerror = () => resolve("refused");
})
"""


def _answers(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


@pytest.fixture
def api(db, data_dir, tmp_path) -> Iterator[tuple[str, str, Path]]:
    """The demo set, Rey (reviewer) with a token, and `python -m services api` in proxy mode: (url, token, log)."""
    migrate()
    load_demo(generate_images=False)
    with acting_as(Actor("ada@example.com", "Ada", Role.admin)):
        auth.add_user(options=auth.NewUser(email="rey@example.com", name="Rey", role="reviewer"))
        token = auth.create_token(
            options=auth.CreateTokenOptions(user_email="rey@example.com", name="seed client")
        ).token
    port = free_port()
    env = {**server_env(data_dir), "RESHOOT_AUTH": "proxy", "RESHOOT_TRUSTED_PROXIES": "127.0.0.1"}
    args = [sys.executable, "-m", "services", "api", "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "api.log"
    with running(args, ready=lambda: _answers(f"{url}/openapi.json"), log_path=log, env=env):
        yield url, token, log


@pytest.fixture
def foreign_site() -> Iterator[str]:
    """Another web site on another loopback port: one harmless-looking page."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>Totally unrelated</title><p>Nothing to see.</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def browser_page(browser, headers: dict[str, str]) -> Page:
    """A tab whose every request carries `headers` (as an SSO proxy would add them)."""
    context = browser.new_context(viewport=VIEWPORT, extra_http_headers=headers)
    context.set_default_timeout(TIMEOUT)
    return context.new_page()


def answered(log: Path) -> list[tuple[str, int]]:
    """The API's access log: (request line, status) of every POST so far."""
    found = re.findall(r'"(POST [^"]+) HTTP/1\.1" (\d{3})', log.read_text(errors="replace"))
    return [(line, int(status)) for line, status in found]


def test_a_foreign_page_cannot_write_or_listen_and_the_seeds_client_still_can(browser, api, foreign_site):
    url, token, log = api
    sentence_versions = len(list_versions("sentence", "sent_001"))
    page = browser_page(browser, PROXY_IDENTITY)

    page.goto(foreign_site)
    results = page.evaluate(WRITES_JS, {"api": url, "mode": "no-cors", "headers": {}, "png64": png_base64("red")})
    assert results == ["opaque"] * 3  # the page itself learns nothing either way
    assert [status for _, status in answered(log)] == [403, 403, 403], answered(log)  # CSRF_REJECTED: tests/api
    assert (
        page.evaluate(WEBSOCKET_JS, url.replace("http", "ws") + "/api/v1/projects/coffee-origins/events") == "refused"
    )
    assert list_jobs() == [] and list_references("7") == []
    assert len(list_versions("sentence", "sent_001")) == sentence_versions

    # The spec's client on the API's own origin, identified by the proxy: the same three requests work
    page.goto(f"{url}/openapi.json")
    assert page.evaluate(WRITES_JS, {"api": "", "mode": "cors", "headers": {}, "png64": png_base64("blue")}) == [
        200,
        200,
        202,
    ]
    assert {job.requested_by for job in list_jobs()} == {"rey@example.com"}
    assert [ref.uploaded_by for ref in list_references("7", "OL-1")] == ["rey@example.com"]
    assert page.evaluate(WEBSOCKET_JS, url.replace("http", "ws") + "/api/v1/projects/coffee-origins/events") == "open"
    page.context.close()

    # ... and with a personal token instead (no proxy in front)
    page = browser_page(browser, {})
    page.goto(f"{url}/openapi.json")
    bearer = {"Authorization": f"Bearer {token}"}
    assert page.evaluate(WRITES_JS, {"api": "", "mode": "cors", "headers": bearer, "png64": png_base64("green")}) == [
        200,
        200,
        202,
    ]
    assert page.evaluate(WRITES_JS, {"api": "", "mode": "cors", "headers": {}, "png64": png_base64("white")}) == [
        401,
        401,
        401,
    ]
    events = url.replace("http", "ws") + "/api/v1/projects/coffee-origins/events"
    assert page.evaluate(WEBSOCKET_JS, events) == "refused"
    assert page.evaluate(WEBSOCKET_JS, f"{events}?access_token={token}") == "open"  # browsers cannot set its headers
    assert "access_token=…" in log.read_text() and token not in log.read_text()  # never written to the log
    page.context.close()


def test_streamlit_keeps_its_own_xsrf_protection():
    with (PROJECT_ROOT / ".streamlit" / "config.toml").open("rb") as f:
        server = tomllib.load(f)["server"]
    assert server["enableXsrfProtection"] is True and server["address"] == "127.0.0.1"


def test_the_dashboard_refuses_a_browser_request_for_another_host(app):
    """DNS rebinding against the RESHOOT_AUTH=none dashboard: a foreign name resolved to 127.0.0.1 is refused."""
    port = app.url.rsplit(":", 1)[1]

    def status(host: str) -> int:
        request = urllib.request.Request(f"{app.url}/", headers={"Host": host, "Sec-Fetch-Mode": "navigate"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as e:
            return e.code

    assert status(f"rebind.example:{port}") == 403
    assert status(f"127.0.0.1:{port}") == 200 and status(f"localhost:{port}") == 200
