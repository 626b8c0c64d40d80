"""Every error the API answers is JSON with a top-level "error" (the spec's shape), never FastAPI's {"detail": …}."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.routing import Match, Route

from services.errors import ReshootError, invalid_request, validation_details
from services.storable_text import problems, storable_error

log = logging.getLogger("reshoot.api")

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def error_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


async def _reshoot_error(request: Request, exc: ReshootError) -> JSONResponse:
    if exc.status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc.code)
    return error_response(exc.status, exc.to_json())


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    return error_response(400, invalid_request(validation_details(list(exc.errors()))).to_json())


def _allowed_methods(request: Request) -> str:
    """Every method of every route matching the path (Starlette's own 405 names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR" if exc.status_code < 500 else "INTERNAL_ERROR")
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return error_response(exc.status_code, {"error": code}, headers=headers or None)


async def _database_refused(request: Request, exc: DataError) -> JSONResponse:
    """A value the database refused that no check caught first: the client's input, not a server fault."""
    log.warning("%s %s: the database refused a value: %s", request.method, request.url.path, type(exc.orig).__name__)
    details = [
        {"field": "body", "message": "A value could not be stored by the database (a character or number it refuses)"}
    ]
    return error_response(400, invalid_request(details).to_json())


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s raised", request.method, request.url.path)
    return error_response(500, {"error": "INTERNAL_ERROR"})


async def storable_parameters(connection: HTTPConnection) -> None:
    """An app-wide dependency: path and query parameters with text no database can store (NUL) are a 400 naming
    the parameter, before any endpoint runs."""
    found = problems(dict(connection.path_params))
    found += [problem for name, value in connection.query_params.multi_items() for problem in problems({name: value})]
    if found:
        raise storable_error(found)


def install_error_handlers(app: FastAPI) -> None:
    app.exception_handler(ReshootError)(_reshoot_error)
    app.exception_handler(RequestValidationError)(_validation_error)
    app.exception_handler(HTTPException)(_http_error)
    app.exception_handler(DataError)(_database_refused)
    app.exception_handler(Exception)(_unexpected_error)
