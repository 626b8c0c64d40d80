"""(issue 15 item 6) Image requests per reload on S3: the work item view rendered twice, a reload apart.

A browser downloads an image again only when its URL changed: versioned objects are stored `immutable`, so an
unchanged URL is answered from the cache. The same work item (real SeaweedFS, images made by the offline
renderer) is rendered twice, RELOAD_GAP seconds apart, with per-second presigning (what Reshoot did before)
and with window-rounded presigning (now), side by side in one run; the count is the image URLs of the second
render that the first did not have.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from urllib.parse import urlparse

from bench.common import Row, check, measure, temp_data_dir

NAME = "s3_reload"
RELOAD_GAP = 1.5  # seconds between the two renders: long enough for a per-second signature to change
KEYS = {"AWS_ACCESS_KEY_ID": "reshoot-bench", "AWS_SECRET_ACCESS_KEY": "reshoot-bench-secret"}


def _image_urls(value) -> list[str]:
    if isinstance(value, dict):
        return [u for v in value.values() for u in _image_urls(v)]
    if isinstance(value, list):
        return [u for v in value for u in _image_urls(v)]
    return [value] if isinstance(value, str) and value.startswith("http") and "X-Amz-" in value else []


@contextmanager
def _per_second_presigning():
    """S3Storage.url as it was: botocore's own clock, so the signature changes every second."""
    from services.storage import S3Storage

    def url(self, key: str) -> str:
        params = {"Bucket": self.bucket, "Key": self._object_key(key)}
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=3600)

    original, S3Storage.url = S3Storage.url, url
    try:
        yield
    finally:
        S3Storage.url = original


def _requests_per_reload(work_item_id: str) -> tuple[int, int]:
    """(image URLs on the page, how many of them a reload RELOAD_GAP s later asks for again)."""
    from services.storage import URL_WINDOW_SECONDS
    from services.work_items import get_work_item

    while True:
        window = int(time.time()) // URL_WINDOW_SECONDS
        first = _image_urls(get_work_item(work_item_id))
        time.sleep(RELOAD_GAP)
        second = _image_urls(get_work_item(work_item_id))
        if int(time.time()) // URL_WINDOW_SECONDS == window:  # a window boundary between them is measured again
            return len(second), len(set(second) - set(first))


def run(quick: bool = False) -> list[Row]:
    from services import jobs, lifestyle
    from services.demo import load_demo
    from services.storage import is_immutable
    from services.work_items import get_work_item
    from tests.servers import seaweedfs

    with seaweedfs(KEYS) as s3:
        env = {**KEYS, "AWS_DEFAULT_REGION": "us-east-1", "RESHOOT_S3_ENDPOINT_URL": s3["endpoint"]}
        with temp_data_dir(NAME, RESHOOT_STORAGE_URL=f"s3://{s3['bucket']}/bench", **env):
            load_demo(generate_images=False)
            started = lifestyle.generate_lifestyle_heroes("7", shot_ids=None if not quick else ["OL-1"], overwrite=True)
            assert jobs.wait_for_job(started["jobId"], timeout=600)["status"] == "succeeded"
            with _per_second_presigning():
                shown, before = _requests_per_reload("7")
            shown_after, after = _requests_per_reload("7")
            immutable = sum(is_immutable(urlparse(u).path) for u in _image_urls(get_work_item("7")))
    return [
        measure(NAME, "image URLs on the work item page (S3)", f"{shown}", f"{immutable} of them versioned (immutable) keys"),
        measure(NAME, "image requests per reload, per-second presigning (before)", f"{before}"),
        check(NAME, "image requests per reload, window-rounded presigning (now)", after, 0, fmt="{:.0f}",
              note=f"of {shown_after} images; reload {RELOAD_GAP:g} s after the first render"),
    ]
