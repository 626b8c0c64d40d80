"""Error bodies in the spec's shape, the assets route for local storage (S3: test_references_api) and CORS."""

from __future__ import annotations

import pytest
from fastapi import Query
from fastapi.testclient import TestClient

from services.api import create_app
from services.config import get_settings
from services.storage import IMMUTABLE, REVALIDATE, cache_control_for, get_storage


def test_unknown_route_and_method_answer_error_json(client):
    r = client.get("/api/nothing-here")
    assert r.status_code == 404 and r.json() == {"error": "NOT_FOUND"}
    r = client.delete("/openapi.json")
    assert r.status_code == 405 and r.json() == {"error": "METHOD_NOT_ALLOWED"}


def test_unexpected_exception_is_internal_error_without_trace(app):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret stack detail")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    assert r.json() == {"error": "INTERNAL_ERROR"}
    assert "secret" not in r.text and "Traceback" not in r.text


def test_parameter_validation_is_invalid_request_with_details(app):
    @app.get("/numbers")
    def numbers(n: int = Query(ge=1)):
        return {"n": n}

    with TestClient(app) as c:
        r = c.get("/numbers", params={"n": "zero"})
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "INVALID_REQUEST"
    assert body["details"][0]["field"] == "n" and body["details"][0]["message"]
    assert "detail" not in body


def test_local_asset_served_with_content_type_and_cache_headers(client, png):
    data = png()
    get_storage().put("fcc/lifestyle/7/OL-1/desktop.png", data)
    r = client.get("/assets/fcc/lifestyle/7/OL-1/desktop.png")
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "image/png"
    assert r.headers["cache-control"] == REVALIDATE
    again = client.get("/assets/fcc/lifestyle/7/OL-1/desktop.png", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_reference_and_thumbnail_keys_are_cached_for_long(client):
    get_storage().put("fcc/lifestyle_refs/7/OL-2/ref_0a1b2c3d4e5f.webp", b"RIFF....WEBP")
    r = client.get("/assets/fcc/lifestyle_refs/7/OL-2/ref_0a1b2c3d4e5f.webp")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/webp"
    assert r.headers["cache-control"] == IMMUTABLE


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("fcc/lifestyle/7/OL-1/desktop.png", REVALIDATE),
        ("fcc/lifestyle_refs/7/OL-2/ref_0a1b2c3d4e5f.png", IMMUTABLE),
        ("fcc/lifestyle_refs/7/OL-2/ref_0a1b2c3d4e5f.thumb.webp", IMMUTABLE),
        ("fcc/lifestyle/7/OL-1/desktop.v3-1a2b3c.png", IMMUTABLE),
        ("fcc/lifestyle/7/OL-1/desktop.v3-1a2b3c.thumb.webp", IMMUTABLE),
        ("fcc/lifestyle/7/OL-1/desktop.v3.png", REVALIDATE),
        ("fcc/storyboard_refs/coffee-origins/17a6bf79928f5358.png", IMMUTABLE),
        ("storyboard/coffee-origins/sent_001/image.v1-46baca.png", IMMUTABLE),
    ],
)
def test_cache_control_by_key(key, expected):
    assert cache_control_for(key) == expected


@pytest.mark.parametrize("key", ["%2e%2e/secret.png", "a/%00/b.png", "a//b.png", "%2Fetc/passwd", "a%5Cb.png"])
def test_unsafe_asset_keys_are_invalid_key(client, key):
    r = client.get(f"/assets/{key}")
    assert r.status_code == 400 and r.json()["error"] == "INVALID_KEY"


def test_missing_asset_is_404_json(client):
    r = client.get("/assets/fcc/lifestyle/7/OL-9/desktop.png")
    assert r.status_code == 404 and r.json()["error"] == "NOT_FOUND"


def test_cors_is_off_by_default(client):
    r = client.get("/openapi.json", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in r.headers


def test_cors_origins_from_settings(monkeypatch, db):
    monkeypatch.setenv("RESHOOT_API_CORS_ORIGINS", "https://app.example, https://other.example")
    get_settings.cache_clear()
    # A browser reaches a RESHOOT_AUTH=none API by a loopback name (any other Host is refused as DNS rebinding).
    with TestClient(create_app(), base_url="http://127.0.0.1:8000") as c:
        allowed = c.get("/openapi.json", headers={"Origin": "https://app.example"})
        other = c.get("/openapi.json", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in other.headers


def test_openapi_and_docs_are_served(client):
    spec = client.get("/openapi.json").json()
    assert (
        "/assets/{key}" in spec["paths"] and "/api/work-items/{work_item_id}/generate-lifestyle-heroes" in spec["paths"]
    )
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, (method, path)  # validation errors answer 400 INVALID_REQUEST
            assert responses["500"]["content"]["application/json"]["schema"] == error_ref, (method, path)
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200
