"""Where image bytes live: a local directory (default) or an S3 bucket, behind one small interface."""

from __future__ import annotations

import mimetypes
import os
import posixpath
import re
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from services.config import get_settings
from services.errors import ReshootError

_KEY_PART = re.compile(r"^[A-Za-z0-9._\- ()]+$")


class StorageKeyNotFound(ReshootError):
    def __init__(self, key: str):
        super().__init__("NOT_FOUND", 404, {"key": key}, f"No stored file at {key}")


def validate_key(key: str) -> str:
    """Return `key` if it is a safe relative key (`fcc/lifestyle/7/OL-1/desktop.png`), else raise."""
    if not isinstance(key, str) or not key or len(key) > 512:
        raise ReshootError("INVALID_KEY", 400, {"key": str(key)[:100]}, "Storage key is empty or too long")
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
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str = "") -> list[str]: ...
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
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
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

    def list(self, prefix: str = "") -> list[str]:
        start = self.path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        if start.is_file():
            return [prefix]
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in start.rglob("*")
            if p.is_file() and not p.name.startswith(".tmp-")
        )

    def url(self, key: str) -> str:
        return self.base_url + validate_key(key)


class S3Storage:
    """Objects in `bucket` under `prefix`; URLs are presigned GETs."""

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None, url_expiry: int = 3600):
        import boto3

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url_expiry = url_expiry
        # A session of our own reads the credentials now, not those boto3's default session saw first.
        self.client = boto3.session.Session().client("s3", endpoint_url=endpoint_url)

    def _object_key(self, key: str) -> str:
        validate_key(key)
        return posixpath.join(self.prefix, key) if self.prefix else key

    def put(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=self._object_key(key),
            Body=data,
            ContentType=content_type or content_type_for(key),
            CacheControl="public, max-age=31536000, immutable",
        )

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._object_key(key))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            raise StorageKeyNotFound(key) from None

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._object_key(key))

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._object_key(key))
            return True
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def list(self, prefix: str = "") -> list[str]:
        full_prefix = self._object_key(prefix.rstrip("/")) if prefix.strip("/") else self.prefix
        strip = len(self.prefix) + 1 if self.prefix else 0
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix):
            keys.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        return sorted(keys)

    def url(self, key: str) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._object_key(key)}, ExpiresIn=self.url_expiry
        )


def storage_from_url(url: str, *, endpoint_url: str | None = None, base_url: str = "/assets/") -> Storage:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalStorage(Path(parsed.netloc + parsed.path), base_url=base_url)
    if parsed.scheme == "s3":
        return S3Storage(parsed.netloc, parsed.path, endpoint_url=endpoint_url)
    raise ReshootError("BAD_CONFIGURATION", 500, {"storage_url": url}, f"Unsupported storage URL: {url}")


def get_storage() -> Storage:
    settings = get_settings()
    return _cached_storage(settings.storage_url, settings.s3_endpoint_url, settings.asset_base_url)


@lru_cache(maxsize=8)
def _cached_storage(url: str, endpoint_url: str | None, base_url: str) -> Storage:
    return storage_from_url(url, endpoint_url=endpoint_url, base_url=base_url)
