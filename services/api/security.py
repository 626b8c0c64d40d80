"""Who is calling the API, and refusing what a foreign web page makes a browser send.

`Security` (pure ASGI, outermost) runs before any route reads a body:
1. Cross-site: with RESHOOT_AUTH=none, a browser request naming a non-loopback Host (DNS rebinding) gets 403
   `CSRF_REJECTED`; a mutating request whose `Sec-Fetch-Site` is `cross-site`, or whose `Origin` is neither the API's
   own nor one of `RESHOOT_API_CORS_ORIGINS`, gets 403 `CSRF_REJECTED` (this covers `fetch(..., {mode:
   "no-cors"})` with `text/plain` bodies and FormData, which skip CORS preflight). A WebSocket handshake from a
   foreign `Origin` is refused the same way.
2. Identity: `none` acts as the local user (the server listens on loopback only); `oidc`/`proxy` need
   `Authorization: Bearer <personal token>` (a WebSocket may pass it as `?access_token=`, browsers cannot set
   headers there), or in `proxy` mode oauth2-proxy's headers from a trusted proxy address. No identity: 401.
3. The route runs inside `acting_as(actor)`; routes declare the role they need (`allow`), and the use cases check
   again (`services.auth.requires`).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

from fastapi import Depends
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from services.auth import (
    AuthMode,
    actor_for_token,
    auth_mode,
    bearer_token,
    is_loopback,
    proxy_actor,
    proxy_identity,
    require,
)
from services.config import get_settings
from services.errors import ReshootError
from services.identity import Actor, Role, acting_as, local_actor

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Describe the API and change nothing; a browser opens them without a token.
OPEN_PATHS = {"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}


_TOKEN_IN_QUERY = re.compile(r"(access_token=)[^&\s\"']+")


class RedactTokens(logging.Filter):
    """Keeps `?access_token=` values out of uvicorn's logs (it logs a WebSocket's path with its query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _TOKEN_IN_QUERY.sub(r"\1…", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_TOKEN_IN_QUERY.sub(r"\1…", a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_tokens_in_server_logs() -> None:
    for name in ("uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


def allow(role: Role) -> Any:
    """A route dependency: the caller's role must allow `role` (403 FORBIDDEN otherwise)."""

    return Depends(_RoleCheck(role))


class _RoleCheck:
    """A dependency that knows its role (tests list each route's role)."""

    def __init__(self, role: Role):
        self.required_role = role

    async def __call__(self) -> None:
        require(self.required_role)


def foreign_origin(connection: HTTPConnection) -> str | None:
    """The request's Origin if it is neither this API's own (same host and port) nor configured; else None."""
    origin = connection.headers.get("origin")
    if origin is None:
        return None
    if origin in get_settings().api_cors_origins:
        return None
    own_host = connection.headers.get("host", "")
    return None if origin != "null" and urlsplit(origin).netloc == own_host else origin


def cross_site_reason(connection: HTTPConnection, method: str) -> str | None:
    if method in SAFE_METHODS:
        return None
    if connection.headers.get("sec-fetch-site") == "cross-site":
        return "Sec-Fetch-Site: cross-site"
    origin = foreign_origin(connection)
    return f"Origin {origin} is not allowed" if origin else None


def rebound_host(connection: HTTPConnection) -> str | None:
    """With RESHOOT_AUTH=none the server is for this machine: a browser request (it sends Origin or Sec-Fetch-*)
    naming another host reached it through DNS rebinding (a foreign name resolved to 127.0.0.1), where the
    foreign page counts as same-origin. Returns that host; None when the request is fine."""
    if auth_mode() is not AuthMode.none:
        return None
    headers = connection.headers
    if "origin" not in headers and "sec-fetch-site" not in headers and "sec-fetch-mode" not in headers:
        return None  # not a browser (scripts, tests): no foreign page behind it
    host = headers.get("host", "")
    return None if is_loopback(urlsplit(f"//{host}").hostname or "") else host


class LoopbackHosts:
    """ASGI middleware for the dashboard (st.App): browser requests with a non-loopback Host get 403 in `none` mode."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        host = rebound_host(HTTPConnection(scope)) if scope["type"] in ("http", "websocket") else None
        if host is None:
            await self.app(scope, receive, send)
            return
        await Security._refuse(scope, receive, send, 403, _rebound_body(host))


def _rebound_body(host: str) -> dict[str, Any]:
    return {"error": "CSRF_REJECTED", "details": {"reason": f"Host {host} is not this machine (RESHOOT_AUTH=none)"}}


def authenticate(connection: HTTPConnection) -> Actor:
    """The caller as an Actor, by the auth mode; raises 401 UNAUTHENTICATED."""
    mode = auth_mode()
    if mode is AuthMode.none:
        return local_actor()
    token = bearer_token(connection.headers.get("authorization"))
    if token is None and connection.scope["type"] == "websocket":
        token = connection.query_params.get("access_token")
    if token:
        return actor_for_token(token)
    if mode is AuthMode.proxy and proxy_identity(connection.headers) is not None:
        client = connection.client
        return proxy_actor(connection.headers, client.host if client else None)
    raise ReshootError("UNAUTHENTICATED", 401, {"reason": "Send Authorization: Bearer <token>"}, "Sign in first")


def _is_open(path: str) -> bool:
    return path in OPEN_PATHS or (path.startswith("/assets/") and get_settings().public_assets)


class Security:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        websocket = scope["type"] == "websocket"
        reason = foreign_origin(connection) if websocket else cross_site_reason(connection, scope["method"])
        if reason:
            await self._refuse(scope, receive, send, 403, {"error": "CSRF_REJECTED", "details": {"reason": reason}})
            return
        host = rebound_host(connection)
        if host is not None:
            await self._refuse(scope, receive, send, 403, _rebound_body(host))
            return
        if _is_open(scope["path"]) or scope.get("method") == "OPTIONS":  # CORS preflights carry no credentials
            await self.app(scope, receive, send)
            return
        try:
            actor = await run_in_threadpool(authenticate, connection)
        except ReshootError as e:
            await self._refuse(scope, receive, send, e.status, e.to_json())
            return
        with acting_as(actor):
            await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, body: dict[str, Any]) -> None:
        if scope["type"] == "websocket":  # closed before accept: the handshake answers 403
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008, "reason": str(body.get("error"))})
            return
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        await JSONResponse(body, status_code=status, headers=headers)(scope, receive, send)
