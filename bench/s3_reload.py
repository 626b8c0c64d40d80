"""(issue 15 item 6) Image requests per reload on S3: the work item view rendered twice, a reload apart.

A browser downloads an image again only when its URL changed: versioned objects are stored `immutable`, so an
unchanged URL is answered from the cache. The same work item (real SeaweedFS, images made by the offline
renderer) is rendered twice, RELOAD_GAP seconds apart, with per-second presigning (what Reshoot did before)
and with window-rounded presigning (now), side by side in one run; the count is the image URLs of the second
render that the first did not have. Then the same in headless Chromium: `streamlit run dashboard.py` with S3
behind a counting proxy, the Work Item page loaded and reloaded, and the presigned GETs that reached S3
during the reload counted (a server started with per-second presigning beside one with the current code).

Also on S3: planning "Generate Lifestyle Hero Images" (a dry run, the same plan the click makes) for a 60-shot work
item, with a HEAD request per target (before) and with one listing of the work item's folder (now), alternated; the
S3 requests each sends are counted.
"""

from __future__ import annotations

import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from urllib.parse import urlparse

from bench.common import Row, check, measure, temp_data_dir
from bench.counting_proxy import counting_proxy

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
        first = _image_urls(get_work_item(work_item_id).model_dump(mode="json"))
        time.sleep(RELOAD_GAP)
        second = _image_urls(get_work_item(work_item_id).model_dump(mode="json"))
        if int(time.time()) // URL_WINDOW_SECONDS == window:  # a window boundary between them is measured again
            return len(second), len(set(second) - set(first))


# `streamlit run` in a process whose S3Storage signs as Reshoot did before (botocore's clock: a new URL a second).
BEFORE_SERVER = """
import sys
from bench.s3_reload import _per_second_presigning
patched = _per_second_presigning()  # kept referenced: a collected generator would undo the patch
patched.__enter__()
from streamlit.web import cli
sys.argv = ["streamlit", "run", "dashboard.py", *sys.argv[1:]]
sys.exit(cli.main())
"""


def _browser_requests_per_reload(counter, *, before: bool) -> tuple[int, int]:
    """(presigned image GETs of the first load, of a reload RELOAD_GAP s later) for the Work Item page."""
    import os
    import sys
    import urllib.request

    from playwright.sync_api import sync_playwright

    from tests.e2e.server import CHROMIUM, CHROMIUM_ARGS
    from tests.servers import free_port, running

    port = free_port()
    flags = ["--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port)]
    args = (
        [sys.executable, "-c", BEFORE_SERVER, *flags]
        if before
        else [sys.executable, "-m", "streamlit", "run", "dashboard.py", *flags]
    )

    def healthy() -> bool:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).status == 200

    log = Path(os.environ["RESHOOT_DATA_DIR"]) / f"streamlit-{port}.log"
    with running(args, ready=healthy, log_path=log, env=dict(os.environ), timeout=120), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        counts = []
        for load in (lambda: page.goto(f"http://127.0.0.1:{port}/work_item?id=7"), page.reload):
            start = counter.presigned_gets
            load()
            page.wait_for_function(
                "() => { const imgs = [...document.images].filter(i => i.src.includes('X-Amz-'));"
                " return imgs.length >= 4 && imgs.every(i => i.complete); }",
                timeout=120_000,
            )
            page.wait_for_timeout(1500)  # late requests, if any, are counted too
            counts.append(counter.presigned_gets - start)
            time.sleep(RELOAD_GAP)
        browser.close()
    return counts[0], counts[1]


PLAN_SHOTS = 60  # the work item planned by "Generate Lifestyle Hero Images" (a dry run: the same plan, no job)


@contextmanager
def _head_per_key():
    """S3Storage.existing as planning did it before: a HEAD request per target."""
    from services.storage import S3Storage

    original = S3Storage.existing
    S3Storage.existing = lambda self, keys: {key for key in keys if self.exists(key)}
    try:
        yield
    finally:
        S3Storage.existing = original


def _planning(rounds: int) -> dict[str, tuple[float, int]]:
    """Per way ("before": a HEAD per target, "now": one listing), the least time of `rounds` dry runs of
    generate-all on a PLAN_SHOTS-shot work item, alternated, and the S3 requests one run sends."""
    from services import lifestyle
    from services.importer import import_data
    from services.storage import get_storage
    from tests.servers import s3_operations

    sizes = [("Desktop", 1920, 800), ("Tablet", 1536, 768), ("Mobile", 750, 1000)]
    plan = [
        {"shot_id": f"P-{n}", "sku": f"SKU-{n}", "size_label": label, "width": w, "height": h}
        | {"filename": f"fcc/lifestyle/plan/P-{n}/{label.lower()}.png"}
        for n in range(1, PLAN_SHOTS + 1)
        for label, w, h in sizes
    ]
    import_data(
        {"workItems": [{"id": "plan", "title": "Plan", "status": "open", "lifestylePack": {"exportPlan": plan}}]}
    )
    sent = s3_operations(get_storage())
    options = lifestyle.GenerateHeroesOptions(dry_run=True)
    best = {"before": float("inf"), "now": float("inf")}
    requests = {}
    for _ in range(rounds):
        for way in best:
            sent.clear()
            with _head_per_key() if way == "before" else nullcontext():
                start = time.perf_counter()
                lifestyle.generate_lifestyle_heroes(work_item_id="plan", options=options)
                best[way] = min(best[way], time.perf_counter() - start)
            requests[way] = len(sent)
    return {way: (best[way], requests[way]) for way in best}


def run(quick: bool = False) -> list[Row]:
    from services import jobs, lifestyle
    from services.demo import load_demo
    from services.storage import is_immutable
    from services.work_items import get_work_item
    from tests.servers import seaweedfs

    with seaweedfs(KEYS) as s3, counting_proxy(s3["endpoint"]) as (endpoint, counter):
        env = {**KEYS, "AWS_DEFAULT_REGION": "us-east-1", "RESHOOT_S3_ENDPOINT_URL": endpoint}
        with temp_data_dir(NAME, RESHOOT_STORAGE_URL=f"s3://{s3['bucket']}/bench", **env):
            load_demo(generate_images=False)
            started = lifestyle.start_heroes_job(
                work_item_id="7",
                options=lifestyle.GenerateHeroesOptions(shot_ids=None if not quick else ["OL-1"], overwrite=True),
            )
            assert jobs.wait_for_job(started.job_id, timeout=600).status == "succeeded"
            with _per_second_presigning():
                shown, before = _requests_per_reload("7")
            shown_after, after = _requests_per_reload("7")
            immutable = sum(
                is_immutable(urlparse(u).path) for u in _image_urls(get_work_item("7").model_dump(mode="json"))
            )
            planned = _planning(3 if quick else 7)
            jobs.stop_embedded_worker()
            first_before, reload_before = _browser_requests_per_reload(counter, before=True)
            first_now, reload_now = _browser_requests_per_reload(counter, before=False)
    (before_s, before_requests), (now_s, now_requests) = planned["before"], planned["now"]
    return [
        measure(
            NAME,
            f"plan generate-all of {PLAN_SHOTS} shots on S3 (dry run): time, a HEAD per target (before) ÷ now",
            f"{before_s / now_s:.1f}",
            f"{before_s * 1000:.0f} ms vs {now_s * 1000:.0f} ms, the least of alternated runs; S3 through a "
            "loopback proxy (a real S3 answers a HEAD in tens of ms, not ~2)",
        ),
        check(
            NAME,
            f"S3 requests to plan generate-all of {PLAN_SHOTS} shots",
            now_requests,
            1,
            fmt="{:.0f}",
            note=f"before: {before_requests} (a HEAD request per target without a version)",
        ),
        measure(
            NAME, "image URLs on the work item page (S3)", f"{shown}", f"{immutable} of them versioned (immutable) keys"
        ),
        measure(NAME, "image requests per reload, per-second presigning (before)", f"{before}"),
        check(
            NAME,
            "image requests per reload, window-rounded presigning (now)",
            after,
            0,
            fmt="{:.0f}",
            note=f"of {shown_after} images; reload {RELOAD_GAP:g} s after the first render",
        ),
        measure(
            NAME,
            "Chromium, Work Item page: presigned image GETs per reload, before",
            f"{reload_before}",
            f"{first_before} on the first load",
        ),
        check(
            NAME,
            "Chromium, Work Item page: presigned image GETs per reload, now",
            reload_now,
            0,
            fmt="{:.0f}",
            note=f"{first_now} on the first load; counted at a proxy in front of S3",
        ),
    ]
