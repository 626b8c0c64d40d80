"""`GET /assets/{key}` in the dashboard's own server, so `/assets/` URLs from local storage load in the browser."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from services.errors import ReshootError


def serve_asset(request: Request) -> Response:
    """The stored file with its content type and cache headers; 404 for a missing or unsafe key, 503 when the
    storage itself is unusable (e.g. S3 without credentials: the body says which variable to set)."""
    from services.api.assets import asset_response

    try:
        return asset_response(request.path_params["key"], request.headers)
    except ReshootError as e:
        if e.status >= 500:
            return JSONResponse({"error": e.code, "details": e.details, "message": e.message}, status_code=e.status)
        return JSONResponse({"error": "NOT_FOUND", "details": e.details}, status_code=404)


def asset_routes() -> list[BaseRoute]:
    return [Route("/assets/{key:path}", serve_asset, methods=["GET", "HEAD"])]
