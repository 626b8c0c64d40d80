"""`GET /assets/{key}`: stored images by storage key — files from local storage, a presigned redirect for S3.

A hero's stable filename is served as its current version (services.versions.served_key), never as whatever
the stable copy held when a publish was interrupted; half-written `.tmp-*` files are never served."""

from __future__ import annotations

import logging
import stat

from fastapi import APIRouter, Request
from starlette.datastructures import Headers
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.staticfiles import NotModifiedResponse

from services.api.schemas import error_responses
from services.api.security import allow
from services.identity import Role
from services.storage import (
    REVALIDATE,
    TEMP_PREFIX,
    LocalStorage,
    StorageKeyNotFound,
    cache_control_for,
    content_type_for,
    get_storage,
    is_immutable,
    validate_key,
)

log = logging.getLogger("reshoot.assets")
# Signed-in callers only, unless RESHOOT_PUBLIC_ASSETS opens it (services/api/security.py skips sign-in then).
router = APIRouter(tags=["assets"], dependencies=[allow(Role.viewer)])

REDIRECT_MAX_AGE = "private, max-age=600"  # well inside the presigned URL's validity (storage.URL_WINDOW_SECONDS)


def _etag_matches(etag: str, request_headers: Headers) -> bool:
    if_none_match = request_headers.get("if-none-match")
    if not if_none_match:
        return False
    return if_none_match.strip() == "*" or etag in [t.strip().removeprefix("W/") for t in if_none_match.split(",")]


def asset_response(key: str, request_headers: Headers) -> Response:
    """The response for one storage key; raises ReshootError (400 bad key, 404 missing)."""
    validate_key(key)
    if key.rsplit("/", 1)[-1].startswith(TEMP_PREFIX):
        raise StorageKeyNotFound(key)  # a file being written, or left behind by a crash
    cache_control = cache_control_for(key)
    source = key if is_immutable(key) else _current_key(key)
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        if not storage.exists(source):
            raise StorageKeyNotFound(key)  # a JSON 404 like local storage, not a redirect to S3's XML NoSuchKey
        redirect_cache = REDIRECT_MAX_AGE if cache_control != REVALIDATE else REVALIDATE
        return RedirectResponse(storage.url(source), status_code=307, headers={"Cache-Control": redirect_cache})
    path = storage.path(source)
    try:
        stat_result = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise StorageKeyNotFound(key) from None
    if not stat.S_ISREG(stat_result.st_mode):
        raise StorageKeyNotFound(key)
    response = FileResponse(
        path, media_type=content_type_for(key), stat_result=stat_result, headers={"Cache-Control": cache_control}
    )
    if _etag_matches(response.headers["etag"], request_headers):
        return NotModifiedResponse(response.headers)
    return response


def _current_key(key: str) -> str:
    from services.versions import served_key

    try:
        return served_key(key)
    except Exception:  # the database is unreachable: the stable copy is the best answer left
        log.warning("Could not resolve %s to its current version; serving the stable copy", key, exc_info=True)
        return key


_IMAGE = {"schema": {"type": "string", "format": "binary"}}


@router.get(
    "/assets/{key:path}",
    response_class=Response,
    responses={
        200: {
            "description": "The stored file",
            "content": {t: _IMAGE for t in ("image/png", "image/jpeg", "image/webp")},
        },
        304: {"description": "Not modified (If-None-Match)"},
        307: {"description": "Redirect to a presigned S3 URL"},
        **error_responses({400: "INVALID_KEY: unsafe or malformed key", 404: "NOT_FOUND: nothing stored at this key"}),
    },
)
def get_asset(key: str, request: Request) -> Response:
    """A stored image by its storage key (e.g. `fcc/lifestyle/7/OL-1/desktop.png`)."""
    return asset_response(key, request.headers)
