"""Request bodies read from the raw bytes, whatever Content-Type the client sent.

The spec's `fetch` for regenerate-image sets no Content-Type (so it arrives as text/plain) and may send
no body at all; FastAPI's own JSON body handling would refuse both, so JSON endpoints parse it here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from services.config import get_settings
from services.errors import ReshootError, invalid_from, invalid_request
from services.storable_text import require_storable

M = TypeVar("M", bound=BaseModel)
MAX_JSON_BYTES = 1024 * 1024


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
        # As the spec spells the fields (camelCase) only: the Python names of options models are not the API's.
        return model.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as e:
        raise invalid_from(e) from None


def json_body(model: type[M]) -> Any:
    """A dependency giving the parsed body as `model` (declare it in OpenAPI with `json_body_doc`)."""

    async def dependency(request: Request) -> M:
        return parse_json(await request.body(), model)

    return Depends(dependency)


def json_body_doc(model: type[BaseModel], *, required: bool) -> dict[str, Any]:
    """`openapi_extra` declaring `model` as the JSON request body."""
    return {
        "requestBody": {"required": required, "content": {"application/json": {"schema": model.model_json_schema()}}}
    }


FORM_OVERHEAD_BYTES = 1024 * 1024  # text fields and part headers on top of the files' own bytes


@dataclass
class Upload:
    """A multipart request's text fields, and its files as (filename, spooled temp file) — read them one at a time."""

    fields: dict[str, str]
    files: list[tuple[str, BinaryIO]] = field(default_factory=list)


class _BodyTooLarge(MultiPartException):
    """Raised from inside the parser's read loop, which closes (and so deletes) the temp files it made."""


class _FileTooLarge(MultiPartException):
    def __init__(self, filename: str, size: int):
        super().__init__(f"{filename} is over the limit")
        self.filename, self.size = filename, size


class _CappedMultiPartParser(MultiPartParser):
    """Starlette's parser, stopping as soon as one file passes `max_file_bytes` (it is named in the answer)."""

    def __init__(self, *args: Any, max_file_bytes: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_file_bytes = max_file_bytes
        self._part_bytes = 0

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self._part_bytes = 0  # per part: a part's id() is reused by the next one, so it cannot key a count

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        super().on_part_data(data, start, end)
        part = self._current_part
        if part.file is not None:
            self._part_bytes += end - start
            if self._part_bytes > self.max_file_bytes:
                raise _FileTooLarge(part.file.filename or "upload", self._part_bytes)


@asynccontextmanager
async def read_upload(request: Request, *, file_fields: tuple[str, ...]) -> AsyncIterator[Upload]:
    """Text fields and the files under any of `file_fields`, open while the block runs, deleted after.

    Nothing is held in memory: the body is parsed as it arrives and each file is spooled to a temp file (anonymous,
    so a crash leaves nothing behind). A declared Content-Length over the request cap is refused before reading;
    a chunked body is cut off, 413, as soon as it passes the cap, and a file as soon as it passes the file cap
    (400 INVALID_IMAGE naming it); more files than the cap is a 400 from the parser."""
    settings = get_settings()
    cap = settings.max_upload_request_bytes + FORM_OVERHEAD_BYTES
    too_large = ReshootError(
        "PAYLOAD_TOO_LARGE",
        413,
        {"maxBytes": settings.max_upload_request_bytes},
        f"An upload may be at most {settings.max_upload_request_mb} MB (RESHOOT_MAX_UPLOAD_REQUEST_MB).",
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise too_large
    content_type = request.headers.get("content-type", "").lower()
    body = _capped(request.stream(), cap)
    try:
        if content_type.startswith("multipart/form-data"):
            form = await _CappedMultiPartParser(
                request.headers,
                body,
                max_files=settings.max_upload_files,
                max_fields=100,
                max_file_bytes=settings.max_upload_bytes,
            ).parse()
        elif content_type.startswith("application/x-www-form-urlencoded"):  # fields only: answered "files required"
            form = await FormParser(request.headers, body).parse()
        else:
            form = FormData()
    except _BodyTooLarge:
        raise too_large from None
    except _FileTooLarge as e:  # the same answer as a file found too large once read: INVALID_IMAGE naming it
        raise ReshootError(
            "INVALID_IMAGE",
            400,
            {"filename": e.filename, "reason": "too_large"},
            f"{e.filename} is over {settings.max_upload_mb} MB, the limit (RESHOOT_MAX_UPLOAD_MB).",
        ) from None
    except MultiPartException as e:  # malformed multipart, too many files or fields: the parser's message says which
        raise invalid_request([{"field": "body", "message": e.message or "Malformed form"}]) from None
    try:
        upload = Upload(fields={k: v for k, v in form.multi_items() if isinstance(v, str) and k not in file_fields})
        for name in file_fields:
            for item in form.getlist(name):
                if isinstance(item, str):
                    raise invalid_request([{"field": name, "message": "Expected a file, got a text value"}])
                upload.files.append((item.filename or "upload", item.file))
        require_storable({**upload.fields, **{f"files.{i}.filename": name for i, (name, _) in enumerate(upload.files)}})
        yield upload
    finally:
        await form.close()


async def _capped(stream: AsyncIterator[bytes], cap: int) -> AsyncGenerator[bytes, None]:
    """`stream`, raising once more than `cap` bytes came (the rest is never read)."""
    received = 0
    async for chunk in stream:
        received += len(chunk)
        if received > cap:
            raise _BodyTooLarge("Request body too large")
        yield chunk
