"""Streamlit's index.html for the app's page URLs (`/storyboard`, `/work_item`, …), told where the server lives.

Opened at a page URL, Streamlit's frontend does not know whether `/storyboard` is a page or a base path, so it
first asks `/storyboard/_stcore/health` (a 404 in the browser console, streamlit#7074) before `/_stcore/health`.
Its documented `window.__streamlit` settings (`BACKEND_BASE_URL`, `MAIN_PAGE_BASE_URL`) name the server's base
URL instead; this serves the same index.html with them set, for the page paths only.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import streamlit
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Route

INDEX_HTML = Path(streamlit.__file__).parent / "static" / "index.html"
_BASE_URL_SCRIPT = """<script>
(() => {
  const base = window.location.origin + "/" + %s;
  window.__streamlit = { BACKEND_BASE_URL: base, MAIN_PAGE_BASE_URL: base };
})();
</script>
"""


@lru_cache(maxsize=1)
def _index_html() -> str:
    from streamlit import config

    base_path = (config.get_option("server.baseUrlPath") or "").strip("/")
    script = _BASE_URL_SCRIPT % repr(base_path + "/" if base_path else "")
    html = INDEX_HTML.read_text(encoding="utf-8")
    return html.replace("<head>", "<head>\n" + script, 1)  # before the app's own module script


def serve_index(_request: Request) -> HTMLResponse:
    return HTMLResponse(_index_html(), headers={"Cache-Control": "no-cache"})


def page_routes(url_paths: list[str]) -> list[BaseRoute]:
    """`GET /<page>` for each page URL path: index.html with the server's base URL set."""
    return [Route(f"/{path}", serve_index, methods=["GET", "HEAD"]) for path in url_paths]
