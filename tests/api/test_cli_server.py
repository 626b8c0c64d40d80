"""`python -m services api` serves the spec's endpoints on a real port (uvicorn), on the demo set."""

from __future__ import annotations

import os
import sys

import httpx
import pytest

from tests.servers import free_port, running


@pytest.fixture
def api_server(demo, tmp_path):
    """The API in its own process on a free loopback port, against this test's data dir; stopped afterwards."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "services", "api", "--host", "127.0.0.1", "--port", str(port)]
    with running(
        args,
        ready=lambda: httpx.get(f"{base}/openapi.json", timeout=1).is_success,
        log_path=tmp_path / "api.log",
        env=os.environ.copy(),
        timeout=30,
    ):
        yield base


@pytest.mark.timeout(90)
def test_dry_run_over_http_prints_the_seed_shape(api_server):
    r = httpx.post(
        f"{api_server}/api/work-items/7/generate-lifestyle-heroes",
        content=b'{"dryRun":true}',
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert list(body)[:7] == ["ok", "workItemId", "dryRun", "overwrite", "generated", "skippedExisting", "missingShots"]
    assert (body["ok"], body["workItemId"], body["dryRun"], body["overwrite"]) == (True, "7", True, False)
    assert len(body["generated"]) == 12 and {g["shot_id"] for g in body["generated"]} == {
        "OL-1",
        "OL-2",
        "OL-3",
        "OL-4",
    }
    assert body["skippedExisting"] == [] and body["missingShots"] == []

    missing = httpx.post(f"{api_server}/api/work-items/15/generate-lifestyle-heroes", json={}, timeout=30)
    assert missing.status_code == 404 and missing.json() == {"error": "LIFESTYLE_PACK_NOT_FOUND"}
