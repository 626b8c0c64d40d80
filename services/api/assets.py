"""`GET /assets/{key}`: stored images by storage key — files from local storage, a presigned redirect for S3."""

from __future__ import annotations

import re
import stat

from fastapi import APIRouter, Request
from starlette.datastructures import Headers
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.staticfiles import NotModifiedResponse

from services.api.schemas import error_responses
from services.storage import LocalStorage, StorageKeyNotFound, content_type_for, get_storage, validate_key

router = APIRouter(tags=["assets"])

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
REDIRECT_MAX_AGE = "private, max-age=600"  # well inside the presigned URL's expiry
# Keys written once and never overwritten: a new version, reference or thumbnail always gets a new key.
# Versions: `…/desktop.v3-1a2b3c.png` (+ `.thumb.webp`); references: `…/ref_3f9a1c0b2d4e.png` (+ `.thumb.webp`);
# cast images, named by content: `fcc/storyboard_refs/{projectId}/{sha256[:16]}.png`.
_VERSIONED = re.compile(r"\.v\d+-[0-9a-f]+\.|(^|/)ref_[0-9a-f]+\.|^fcc/storyboard_refs/.+/[0-9a-f]{16}\.")


def cache_control_for(key: str) -> str:
    """Long-lived for keys that never change; revalidate stable names such as an export plan's filename."""
    return IMMUTABLE if _VERSIONED.search(key) else REVALIDATE


def _etag_matches(etag: str, request_headers: Headers) -> bool:
    if_none_match = request_headers.get("if-none-match")
    if not if_none_match:
        return False
    return if_none_match.strip() == "*" or etag in [t.strip().removeprefix("W/") for t in if_none_match.split(",")]


def asset_response(key: str, request_headers: Headers) -> Response:
    """The response for one storage key; raises ReshootError (400 bad key, 404 missing)."""
    validate_key(key)
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        return RedirectResponse(storage.url(key), status_code=307, headers={"Cache-Control": REDIRECT_MAX_AGE})
    path = storage.path(key)
    try:
        stat_result = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise StorageKeyNotFound(key) from None
    if not stat.S_ISREG(stat_result.st_mode):
        raise StorageKeyNotFound(key)
    response = FileResponse(
        path, media_type=content_type_for(key), stat_result=stat_result, headers={"Cache-Control": cache_control_for(key)}
    )
    if _etag_matches(response.headers["etag"], request_headers):
        return NotModifiedResponse(response.headers)
    return response


_IMAGE = {"schema": {"type": "string", "format": "binary"}}


@router.get(
    "/assets/{key:path}",
    response_class=Response,
    responses={
        200: {"description": "The stored file", "content": {t: _IMAGE for t in ("image/png", "image/jpeg", "image/webp")}},
        304: {"description": "Not modified (If-None-Match)"},
        307: {"description": "Redirect to a presigned S3 URL"},
        **error_responses({400: "INVALID_KEY: unsafe or malformed key", 404: "NOT_FOUND: nothing stored at this key"}),
    },
)
def get_asset(key: str, request: Request) -> Response:
    """A stored image by its storage key (e.g. `fcc/lifestyle/7/OL-1/desktop.png`)."""
    return asset_response(key, request.headers)
