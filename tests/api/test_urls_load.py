"""Every `url`/`thumbUrl`/`imageFile`/reference image and hero `filename` the API returns loads as an image."""

from __future__ import annotations

from typing import Any

from services.config import get_settings
from services.jobs import wait_for_job

URL_KEYS = {"url", "thumbUrl", "imageFile"}


def image_links(value: Any) -> set[str]:
    """URLs in a response body, and hero filenames as the spec's client builds them (ASSET_BASE_URL + filename)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key in URL_KEYS and item:
                found.add(item)
            elif key == "referenceImages":
                found |= set(item)
            elif key == "filename" and "shot_id" in value and value.get("url", True):  # heroes that exist
                found.add(get_settings().asset_base_url + item)
            else:
                found |= image_links(item)
    elif isinstance(value, list):
        for item in value:
            found |= image_links(item)
    return found


def test_every_returned_image_link_loads(client, demo, png):
    references = client.post(
        "/api/work-items/7/lifestyle-hero-references",
        data={"shotId": "OL-1"},
        files=[("files", ("a.png", png("red"), "image/png"))],
    ).json()
    heroes = client.post(
        "/api/work-items/7/generate-lifestyle-heroes", json={"shotIds": ["OL-1", "OL-2"], "overwrite": True}
    )
    assert heroes.status_code == 200
    job_id = client.post("/api/v1/sentences/sent_001/regenerate-image", content=b"").json()["jobId"]
    wait_for_job(job_id, timeout=120)

    bodies = [
        references,
        heroes.json(),
        client.get("/api/work-items/7").json(),
        client.get("/api/work-items/7/lifestyle-hero-references").json(),
        client.get("/api/v1/projects/coffee-origins").json(),
        client.get("/api/v1/sentences/sent_001").json(),
    ]
    links = set().union(*(image_links(body) for body in bodies))
    assert len(links) >= 6 + 2 + 3  # hero rows (url, thumbUrl, filename), a reference (url, thumbUrl), cast, sentence
    for link in sorted(links):
        r = client.get(link)
        assert r.status_code == 200, link
        assert r.headers["content-type"].startswith("image/"), link
        assert r.content, link
