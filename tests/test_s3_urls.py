"""S3 as an operator meets it: SigV4 URLs in the configured region that stay the same for a time window (so a
reload re-downloads nothing), a public/CDN prefix when configured, a JSON 404 for a missing key, and a plain
message, not a botocore traceback, when credentials are missing."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from fastapi.testclient import TestClient

from services import jobs, lifestyle
from services import storage as storage_module
from services.api import create_app
from services.config import get_settings
from services.storage import S3Storage, StorageUnavailable, get_storage
from services.work_items import get_work_item

KEY = "fcc/lifestyle/7/OL-1/desktop.v1-0a0b0c.png"
PNG = b"\x89PNG\r\n\x1a\n" + b"pixels" * 10


def window() -> int:
    return int(time.time()) // storage_module.URL_WINDOW_SECONDS


def twice(make, *, apart: float = 1.2):
    """`make()` now and `apart` seconds later, within one URL window (a rare boundary crossing is retried)."""
    while True:
        started = window()
        first = make()
        time.sleep(apart)
        second = make()
        if window() == started:
            return first, second


def presigned(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def test_urls_are_sigv4_in_the_configured_region_and_load(s3_env):
    store = get_storage()
    store.put(KEY, PNG)
    query = presigned(store.url(KEY))
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Credential"].split("/")[2] == "us-east-1"
    response = requests.get(store.url(KEY), timeout=10)
    assert response.status_code == 200 and response.content == PNG


def test_region_comes_from_reshoot_s3_region_then_aws_region(s3_env, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    get_settings.cache_clear()
    assert get_settings().s3_region == "eu-central-1"
    assert presigned(get_storage().url(KEY))["X-Amz-Credential"].split("/")[2] == "eu-central-1"
    monkeypatch.setenv("RESHOOT_S3_REGION", "eu-west-3")
    get_settings.cache_clear()
    assert presigned(get_storage().url(KEY))["X-Amz-Credential"].split("/")[2] == "eu-west-3"


def test_the_same_key_gets_the_same_url_within_a_window(s3_env):
    store = get_storage()
    first, second = twice(lambda: store.url(KEY))
    assert first == second
    query = presigned(first)
    signed_at = time.mktime(time.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ")) - time.timezone
    assert signed_at % storage_module.URL_WINDOW_SECONDS == 0
    assert int(query["X-Amz-Expires"]) >= 2 * storage_module.URL_WINDOW_SECONDS  # valid an hour after handing out


def test_two_renders_of_a_work_item_share_every_versioned_image_url(s3_env, demo, fake_backend):
    started = lifestyle.start_heroes_job(
        work_item_id="7", options=lifestyle.GenerateHeroesOptions(shot_ids=["OL-1", "OL-2"], overwrite=True)
    )
    assert jobs.wait_for_job(started.job_id, timeout=60).status == "succeeded"

    def image_urls() -> list[str]:
        found: list[str] = []

        def walk(value):
            if isinstance(value, dict):
                for v in value.values():
                    walk(v)
            elif isinstance(value, list):
                for v in value:
                    walk(v)
            elif isinstance(value, str) and "X-Amz-Signature" in value:
                found.append(value)

        walk(get_work_item("7").model_dump(mode="json"))
        return found

    first, second = twice(image_urls)
    assert len(first) >= 6  # OL-1 and OL-2: three sizes each, image and thumbnail
    assert first == second  # a reload asks the browser for nothing new: every image is in its cache
    assert all(storage_module.is_immutable(urlparse(u).path) for u in first)


def test_a_public_url_prefix_replaces_presigning(s3_env, monkeypatch):
    monkeypatch.setenv("RESHOOT_S3_PUBLIC_URL", "https://cdn.example.com/media/")
    get_settings.cache_clear()
    store = get_storage()
    assert store.url(KEY) == f"https://cdn.example.com/media/{store.prefix}/{KEY}"


def test_assets_answers_a_json_404_for_a_missing_key_and_redirects_for_a_present_one(s3_env, db):
    get_storage().put(KEY, PNG)
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        missing = client.get("/assets/fcc/lifestyle/7/OL-9/desktop.png", follow_redirects=False)
        present = client.get(f"/assets/{KEY}", follow_redirects=False)
    assert missing.status_code == 404 and missing.json()["error"] == "NOT_FOUND"
    assert present.status_code == 307 and requests.get(present.headers["location"], timeout=10).content == PNG


@pytest.fixture
def no_credentials(s3_env, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    get_settings.cache_clear()
    storage_module._cached_storage.cache_clear()
    yield
    storage_module._cached_storage.cache_clear()


def test_missing_credentials_are_one_plain_message(no_credentials):
    store = get_storage()
    assert isinstance(store, S3Storage)
    for operation in (lambda: store.url(KEY), lambda: store.put(KEY, PNG), lambda: store.get(KEY)):
        with pytest.raises(StorageUnavailable) as info:
            operation()
        assert info.value.status == 503
        assert "AWS_ACCESS_KEY_ID" in info.value.message and "botocore" not in info.value.message


def test_a_missing_bucket_names_the_setting(s3_env, monkeypatch):
    monkeypatch.setenv("RESHOOT_STORAGE_URL", "s3://no-such-bucket-here/x")
    get_settings.cache_clear()
    with pytest.raises(StorageUnavailable) as info:
        get_storage().list()
    assert "RESHOOT_STORAGE_URL" in info.value.message and "no-such-bucket-here" in info.value.message


def test_the_dashboards_asset_route_says_storage_is_unusable_not_missing(no_credentials):
    from starlette.applications import Starlette

    from ui.assets import asset_routes

    with TestClient(Starlette(routes=asset_routes())) as client:
        response = client.get(f"/assets/{KEY}", follow_redirects=False)
    assert response.status_code == 503
    assert response.json()["error"] == "STORAGE_UNAVAILABLE" and "AWS_ACCESS_KEY_ID" in response.json()["message"]
