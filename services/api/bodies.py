"""Request bodies read from the raw bytes, whatever Content-Type the client sent.

The seeds' `fetch` for regenerate-image sets no Content-Type (so it arrives as text/plain) and may send
no body at all; FastAPI's own JSON body handling would refuse both, so JSON endpoints parse it here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from services.api.errors import invalid_from
from services.config import get_settings
from services.errors import ReshootError, invalid_request
from services.storable_text import require_storable

M = TypeVar("M", bound=BaseModel)
MAX_JSON_BYTES = 1024 * 1024
MAX_FILES = 50


def parse_json(raw: bytes, model: type[M]) -> M:
    """`model` from a JSON object body (empty body = {}); 400 INVALID_REQUEST with details otherwise."""
    if len(raw) > MAX_JSON_BYTES:
        raise ReshootError("PAYLOAD_TOO_LARGE", 413, {"maxBytes": MAX_JSON_BYTES})
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise invalid_request([{"field": "body", "message": "Body is not valid JSON"}]) from None
    if not isinstance(data, dict):
        raise invalid_request([{"field": "body", "message": "Body must be a JSON object"}])
    require_storable(data)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise invalid_from(e) from None


def json_body(model: type[M]) -> Any:
    """A dependency giving the parsed body as `model` (declare it in OpenAPI with `json_body_doc`)."""

    async def dependency(request: Request) -> M:
        return parse_json(await request.body(), model)

    return Depends(dependency)


def json_body_doc(model: type[BaseModel], *, required: bool) -> dict[str, Any]:
    """`openapi_extra` declaring `model` as the JSON request body."""
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": model.model_json_schema()}}}}


@dataclass
class Upload:
    fields: dict[str, str]
    files: list[tuple[str, bytes]] = field(default_factory=list)


async def read_upload(request: Request, *, file_fields: tuple[str, ...]) -> Upload:
    """Text fields and the files under any of `file_fields`; each file read to at most the upload cap + 1 byte,
    so an oversized file reaches the image validation (which names it) without being read whole."""
    limit = get_settings().max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FILES * (limit + 1) + MAX_JSON_BYTES:
        raise ReshootError("PAYLOAD_TOO_LARGE", 413, {"maxBytes": MAX_FILES * limit})
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=100)
    except Exception as e:  # malformed multipart, too many parts: the parser's message says which
        raise invalid_request([{"field": "body", "message": str(getattr(e, "detail", e)) or "Malformed form"}]) from None
    try:
        upload = Upload(fields={k: v for k, v in form.multi_items() if isinstance(v, str) and k not in file_fields})
        for name in file_fields:
            for item in form.getlist(name):
                if isinstance(item, str):
                    raise invalid_request([{"field": name, "message": "Expected a file, got a text value"}])
                upload.files.append((item.filename or "upload", await item.read(limit + 1)))
        require_storable({**upload.fields, **{f"files.{i}.filename": name for i, (name, _) in enumerate(upload.files)}})
        return upload
    finally:
        await form.close()
