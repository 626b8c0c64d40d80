"""Where image bytes live: a local directory (default) or an S3 bucket, behind one small interface.

Cache rules: keys written once (versions, references, their thumbnails) may be cached forever; stable keys
(an export plan's `filename`, rewritten whenever another version becomes current) must revalidate.
"""

from __future__ import annotations

import mimetypes
import os
import posixpath
import re
import secrets
import tempfile
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlparse

from services.config import get_settings
from services.errors import ReshootError

_KEY_PART = re.compile(r"^[A-Za-z0-9._\- ()]+$")
TEMP_PREFIX = ".tmp-"  # LocalStorage writes here first, then renames into place

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Keys written once and never overwritten: a new version, reference or thumbnail always gets a new key.
# Versions: `…/desktop.v3-1a2b3c.png` (+ `.thumb.webp`); references: `…/ref_3f9a1c0b2d4e.png` (+ `.thumb.webp`);
# cast images, named by content: `fcc/storyboard_refs/{projectId}/{sha256[:16]}.png`.
_VERSIONED = re.compile(r"\.v\d+-[0-9a-f]+\.|(^|/)ref_[0-9a-f]+\.|^fcc/storyboard_refs/.+/[0-9a-f]{16}\.")


def is_immutable(key: str) -> bool:
    return bool(_VERSIONED.search(key))


def cache_control_for(key: str) -> str:
    """Long-lived for keys that never change; revalidate stable names such as an export plan's filename."""
    return IMMUTABLE if is_immutable(key) else REVALIDATE


class StorageKeyNotFound(ReshootError):
    def __init__(self, key: str):
        super().__init__("NOT_FOUND", 404, {"key": key}, f"No stored file at {key}")


class StorageUnavailable(ReshootError):
    """Storage is misconfigured or unreachable; the message names the setting to fix."""

    def __init__(self, message: str, *, details: dict | None = None):
        super().__init__("STORAGE_UNAVAILABLE", 503, details, message)


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: datetime  # UTC


def validate_key(key: str) -> str:
    """Return `key` if it is a safe relative key (`fcc/lifestyle/7/OL-1/desktop.png`), else raise."""
    if not isinstance(key, str) or not key or len(key) > 512:
        raise ReshootError("INVALID_KEY", 400, {"key": str(key)[:100]}, "Storage key is empty or too long")
    return _checked_key(key)


@lru_cache(maxsize=4096)  # a page run asks for the URLs of the same few dozen keys every time; a refusal is not kept
def _checked_key(key: str) -> str:
    if key.startswith("/") or "\\" in key or "\x00" in key:
        raise ReshootError("INVALID_KEY", 400, {"key": key}, "Storage key must be relative")
    parts = key.split("/")
    if any(part in ("", ".", "..") or not _KEY_PART.match(part) for part in parts):
        raise ReshootError("INVALID_KEY", 400, {"key": key}, "Storage key has an unsafe part")
    return key


def content_type_for(key: str) -> str:
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


class Storage(Protocol):
    def put(self, key: str, data: bytes, *, content_type: str | None = None) -> None: ...
    def put_copy(self, key: str, source_key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def existing(self, keys: Collection[str]) -> set[str]: ...
    def list(self, prefix: str = "") -> list[str]: ...
    def objects(self, prefix: str = "") -> Iterator[StoredObject]: ...
    def url(self, key: str) -> str: ...


class LocalStorage:
    """Files under `root`; writes go to a temp file first and are renamed into place."""

    def __init__(self, root: Path, *, base_url: str = "/assets/"):
        self.root = Path(root).resolve()
        self.base_url = base_url
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        if not path.is_relative_to(self.root):
            raise ReshootError("INVALID_KEY", 400, {"key": key}, "Storage key escapes the storage root")
        return path

    def put(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_copy(self, key: str, source_key: str, data: bytes) -> None:
        """Store at `key` the bytes stored at `source_key` (which are `data`): a second name for the same file (a hard
        link, placed like a write), or a write of `data` where the file system has no links. Files here are only
        ever replaced, never written in place, so the two names keep the same bytes until `key` is replaced.
        Linking costs a tenth of creating a file (0.04 against 0.4 ms on the benchmark host's ext4)."""
        path, source = self.path(key), self.path(source_key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
        try:
            os.link(source, tmp)
        except OSError:  # no such file, another file system, or none that links: write the bytes
            self.put(key, data)
            return
        try:
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise StorageKeyNotFound(key) from None

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def existing(self, keys: Collection[str]) -> set[str]:
        """Which of `keys` are stored."""
        return {key for key in keys if self.exists(key)}

    def list(self, prefix: str = "") -> list[str]:
        start = self.path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        if start.is_file():
            return [prefix]
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in start.rglob("*")
            if p.is_file() and not p.name.startswith(TEMP_PREFIX)
        )

    def objects(self, prefix: str = "", *, include_temp: bool = False) -> Iterator[StoredObject]:
        """Stored files with size and modification time; `include_temp` adds half-written `.tmp-*` files."""
        start = self.path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        for path in start.rglob("*") if start.is_dir() else [start]:
            if path.name.startswith(TEMP_PREFIX) and not include_temp:
                continue
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue  # renamed or removed meanwhile
            if path.is_file():
                yield StoredObject(
                    path.relative_to(self.root).as_posix(), info.st_size, datetime.fromtimestamp(info.st_mtime, UTC)
                )

    def url(self, key: str) -> str:
        return self.base_url + validate_key(key)


# Presigned URLs of one time window are identical, so browsers reuse cached images across reloads. botocore
# signs with `botocore.auth.get_current_datetime()`; while `_signing_time` is set, that clock answers it.
_signing_time: ContextVar[datetime | None] = ContextVar("reshoot_s3_signing_time", default=None)


def _install_signing_clock() -> None:
    import botocore.auth

    original = botocore.auth.get_current_datetime  # type: ignore[attr-defined]  # botocore's clock, not in its stubs
    if getattr(original, "reshoot_clock", False):
        return

    def clock(remove_tzinfo: bool = True) -> datetime:
        fixed = _signing_time.get()
        if fixed is None:
            return original(remove_tzinfo)
        return fixed.replace(tzinfo=None) if remove_tzinfo else fixed

    clock.reshoot_clock = True  # type: ignore[attr-defined]  # marks the clock installed (once per process)
    botocore.auth.get_current_datetime = clock  # type: ignore[attr-defined]  # see above


URL_WINDOW_SECONDS = 3600  # a presigned URL stays the same for this long…
URL_EXPIRY_SECONDS = 2 * URL_WINDOW_SECONDS  # …and is valid at least URL_WINDOW_SECONDS after it was handed out


class S3Storage:
    """Objects in `bucket` under `prefix`; URLs are SigV4-presigned GETs (or `public_url` + key when configured)."""

    list_page_size = 1000  # objects per ListObjectsV2 request (S3's most)

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        public_url: str | None = None,
    ):
        import boto3
        from botocore.config import Config

        _install_signing_clock()
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.region = region
        self.public_url = public_url.rstrip("/") + "/" if public_url else None
        # A session of our own reads the credentials now, not those boto3's default session saw first.
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=Config(signature_version="s3v4")
        )

    def _object_key(self, key: str) -> str:
        validate_key(key)
        return posixpath.join(self.prefix, key) if self.prefix else key

    @contextmanager
    def _errors(self, key: str | None = None) -> Iterator[None]:
        """botocore's exceptions as plain StorageUnavailable messages (NoSuchKey as StorageKeyNotFound)."""
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
        )

        where = f"S3 bucket {self.bucket}" + (f" at {self.endpoint_url}" if self.endpoint_url else "")
        try:
            yield
        except (NoCredentialsError, PartialCredentialsError):
            raise StorageUnavailable(
                f"{where} needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE).",
                details={"variable": "AWS_ACCESS_KEY_ID"},
            ) from None
        except EndpointConnectionError:
            raise StorageUnavailable(
                f"Cannot reach {where}: check RESHOOT_S3_ENDPOINT_URL.", details={"variable": "RESHOOT_S3_ENDPOINT_URL"}
            ) from None
        except ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound") and key is not None:
                raise StorageKeyNotFound(key) from None
            raise StorageUnavailable(_client_error_message(where, code), details={"code": code}) from None
        except BotoCoreError as e:
            raise StorageUnavailable(f"{where} failed: {e}", details={"variable": "RESHOOT_STORAGE_URL"}) from None

    def put_copy(self, key: str, source_key: str, data: bytes) -> None:
        """Store `data` (the bytes at `source_key`) at `key`: an upload (its own Cache-Control, see put)."""
        self.put(key, data)

    def put(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        with self._errors():
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._object_key(key),
                Body=data,
                ContentType=content_type or content_type_for(key),
                CacheControl=cache_control_for(key),
            )

    def get(self, key: str) -> bytes:
        with self._errors(key):
            return self.client.get_object(Bucket=self.bucket, Key=self._object_key(key))["Body"].read()

    def delete(self, key: str) -> None:
        with self._errors():
            self.client.delete_object(Bucket=self.bucket, Key=self._object_key(key))

    def exists(self, key: str) -> bool:
        try:
            with self._errors(key):
                self.client.head_object(Bucket=self.bucket, Key=self._object_key(key))
        except StorageKeyNotFound:
            return False
        return True

    def existing(self, keys: Collection[str]) -> set[str]:
        """Which of `keys` are stored: one listing of their common folder instead of a HEAD request a key (a
        work item's 60 shots: 1 request, not 180), unless the folder holds over a hundred objects a key (then the
        keys not listed by then get their HEAD)."""
        wanted = {validate_key(key) for key in keys}
        if len(wanted) <= 1:
            return {key for key in wanted if self.exists(key)}
        folder = posixpath.commonprefix(list(wanted)).rpartition("/")[0]
        prefix = self._object_key(folder) + "/" if folder else (self.prefix + "/" if self.prefix else "")
        strip = len(self.prefix) + 1 if self.prefix else 0
        found: set[str] = set()
        listed, last = 0, ""  # listings come in key order: a key up to `last` that was not listed is not stored
        with self._errors():
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": self.list_page_size}
            )
            for page in pages:
                contents = page.get("Contents", [])
                found |= wanted & {obj["Key"][strip:] for obj in contents}
                if not page.get("IsTruncated"):
                    return found
                listed, last = listed + len(contents), contents[-1]["Key"][strip:] if contents else last
                if listed >= 100 * len(wanted):
                    break
        return found | {key for key in wanted - found if key > last and self.exists(key)}

    def list(self, prefix: str = "") -> list[str]:
        return sorted(o.key for o in self.objects(prefix))

    def objects(self, prefix: str = "") -> Iterator[StoredObject]:
        full_prefix = self._object_key(prefix.rstrip("/")) if prefix.strip("/") else self.prefix
        strip = len(self.prefix) + 1 if self.prefix else 0
        with self._errors():
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full_prefix):
                for obj in page.get("Contents", []):
                    yield StoredObject(obj["Key"][strip:], obj["Size"], obj["LastModified"].astimezone(UTC))

    def url(self, key: str) -> str:
        """The public URL when configured; else a presigned GET signed at the start of the current time window,
        so every process hands out the same URL for a key for URL_WINDOW_SECONDS (cached images stay cached)."""
        object_key = self._object_key(key)
        if self.public_url:
            return self.public_url + quote(object_key)
        window_start = int(time.time()) // URL_WINDOW_SECONDS * URL_WINDOW_SECONDS
        token = _signing_time.set(datetime.fromtimestamp(window_start, UTC))
        try:
            with self._errors():
                return self.client.generate_presigned_url(
                    "get_object", Params={"Bucket": self.bucket, "Key": object_key}, ExpiresIn=URL_EXPIRY_SECONDS
                )
        finally:
            _signing_time.reset(token)


def _client_error_message(where: str, code: str) -> str:
    if code == "NoSuchBucket":
        return f"{where} does not exist: create the bucket or fix RESHOOT_STORAGE_URL (s3://bucket/prefix)."
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "InvalidToken", "ExpiredToken"):
        return f"{where} refused the credentials ({code}): check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and RESHOOT_S3_REGION."
    return f"{where} answered {code or 'an error'}: check RESHOOT_STORAGE_URL and RESHOOT_S3_ENDPOINT_URL."


def storage_from_url(
    url: str,
    *,
    endpoint_url: str | None = None,
    base_url: str = "/assets/",
    region: str = "us-east-1",
    public_url: str | None = None,
) -> Storage:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        root = Path(parsed.netloc + parsed.path)
        try:
            return LocalStorage(root, base_url=base_url)
        except OSError as e:
            raise StorageUnavailable(
                f"Cannot use {root} as the storage directory ({e.strerror or e}): check RESHOOT_STORAGE_URL "
                "(or RESHOOT_DATA_DIR).",
                details={"variable": "RESHOOT_STORAGE_URL"},
            ) from None
    if parsed.scheme == "s3" and parsed.netloc:
        return S3Storage(parsed.netloc, parsed.path, endpoint_url=endpoint_url, region=region, public_url=public_url)
    raise StorageUnavailable(
        f"RESHOOT_STORAGE_URL must be file:///a/directory or s3://bucket/prefix, not {url!r}.",
        details={"variable": "RESHOOT_STORAGE_URL"},
    )


def get_storage() -> Storage:
    settings = get_settings()
    return _cached_storage(
        settings.storage_url,
        settings.s3_endpoint_url,
        settings.asset_base_url,
        settings.s3_region,
        settings.s3_public_url,
    )


@lru_cache(maxsize=8)
def _cached_storage(url: str, endpoint_url: str | None, base_url: str, region: str, public_url: str | None) -> Storage:
    return storage_from_url(url, endpoint_url=endpoint_url, base_url=base_url, region=region, public_url=public_url)
