"""`GET /assets/{key}` in the dashboard's own server, so `/assets/` URLs from local storage load in the browser."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from services.errors import ReshootError

STREAMLIT_USER_COOKIE = "_streamlit_user"


def signed_in_by_streamlit(request: Request) -> bool:
    """Whether the request carries the signed-in cookie `st.login` set. Streamlit offers no public way to read it
    outside a script run, so this uses the functions its WebSocket uses (tests/e2e/test_signin.py fails if they
    change): the cookie is signed with `[auth] cookie_secret` and names the origin it was issued for."""
    from streamlit.web.server.starlette.starlette_websocket import (
        _get_signed_cookie_with_chunks,
        _parse_decoded_user_cookie,
    )

    decoded = _get_signed_cookie_with_chunks(dict(request.cookies), STREAMLIT_USER_COOKIE)
    origin = f"{request.url.scheme}://{request.url.netloc}"
    return bool(decoded and _parse_decoded_user_cookie(decoded, origin).get("is_logged_in"))


def may_see_assets(request: Request) -> bool:
    """Images need what pages need: a signed-in cookie (oidc) or the proxy's identity from a trusted address (proxy),
    unless RESHOOT_PUBLIC_ASSETS opens them."""
    from services.auth import AuthMode, auth_mode, peer_is_trusted_proxy, proxy_identity
    from services.config import get_settings

    mode = auth_mode()
    if mode is AuthMode.none or get_settings().public_assets:
        return True
    if mode is AuthMode.proxy:
        peer = request.client.host if request.client else None
        return peer_is_trusted_proxy(peer) and proxy_identity(request.headers) is not None
    return signed_in_by_streamlit(request)


def serve_asset(request: Request) -> Response:
    """The stored file with its content type and cache headers; 401 for a visitor who is not signed in, 404 for a
    missing or unsafe key, 503 when the storage itself is unusable (e.g. S3 without credentials: the body says
    which variable to set)."""
    from services.api.assets import asset_response

    if not may_see_assets(request):
        return JSONResponse(
            {"error": "UNAUTHENTICATED", "details": {"reason": "Sign in to see images"}}, status_code=401
        )
    try:
        return asset_response(request.path_params["key"], request.headers)
    except ReshootError as e:
        if e.status >= 500:
            return JSONResponse({"error": e.code, "details": e.details, "message": e.message}, status_code=e.status)
        return JSONResponse({"error": "NOT_FOUND", "details": e.details}, status_code=404)


def asset_routes() -> list[BaseRoute]:
    return [Route("/assets/{key:path}", serve_asset, methods=["GET", "HEAD"])]
