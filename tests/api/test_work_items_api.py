"""Work items, their pack, and POST …/generate-lifestyle-heroes (spec 001) over HTTP."""

from __future__ import annotations

import pytest

from services.config import get_settings
from services.jobs import wait_for_job

SEED_RESULT_KEYS = {"ok", "workItemId", "dryRun", "overwrite", "generated", "skippedExisting", "missingShots"}


def generate(client, work_item_id="7", body=None, **kwargs):
    return client.post(f"/api/work-items/{work_item_id}/generate-lifestyle-heroes", json=body, **kwargs)


def test_list_work_items_with_filters_and_pages(client, demo):
    body = client.get("/api/work-items").json()
    assert body["ok"] is True and body["total"] == 4 and body["page"] == 1
    by_id = {item["id"]: item for item in body["items"]}
    assert by_id["7"]["shotCount"] == 4 and by_id["15"]["shotCount"] == 0
    assert all({"id", "title", "status", "shotCount"} <= set(item) for item in body["items"])

    assert [i["id"] for i in client.get("/api/work-items", params={"search": "Kitchen"}).json()["items"]] == ["12"]
    assert [i["id"] for i in client.get("/api/work-items", params={"hasPack": "false"}).json()["items"]] == ["15"]
    status = by_id["7"]["status"]
    assert "7" in {i["id"] for i in client.get("/api/work-items", params={"status": status}).json()["items"]}
    page2 = client.get("/api/work-items", params={"page": 2, "pageSize": 3}).json()
    assert (len(page2["items"]), page2["pageSize"], page2["total"]) == (1, 3, 4)


@pytest.mark.parametrize(
    "params", [{"page": 0}, {"pageSize": 0}, {"pageSize": 1000}, {"page": "two"}, {"hasPack": "maybe"}]
)
def test_list_work_items_bad_query_is_invalid_request(client, demo, params):
    r = client.get("/api/work-items", params=params)
    assert r.status_code == 400
    assert r.json()["error"] == "INVALID_REQUEST"
    assert r.json()["details"][0]["field"] == next(iter(params))


def test_work_item_detail_has_the_export_plan(client, demo):
    body = client.get("/api/work-items/7").json()
    assert body["ok"] is True and body["id"] == "7" and body["hasPack"] is True
    assert [shot["shot_id"] for shot in body["shots"]] == ["OL-1", "OL-2", "OL-3", "OL-4"]
    assert len(body["exportPlan"]) == 12
    row = body["exportPlan"][0]
    assert {k: row[k] for k in ("shot_id", "size_label", "width", "height", "filename")} == {
        "shot_id": "OL-1",
        "size_label": "Desktop",
        "width": 1920,
        "height": 800,
        "filename": "fcc/lifestyle/7/OL-1/desktop.png",
    }
    assert row["sku"]


def test_work_item_without_pack_has_an_empty_plan(client, demo):
    body = client.get("/api/work-items/15").json()
    assert (body["hasPack"], body["shots"], body["exportPlan"]) == (False, [], [])


def test_unknown_work_item_is_404(client, demo):
    r = client.get("/api/work-items/nope")
    assert r.status_code == 404 and r.json()["error"] == "WORK_ITEM_NOT_FOUND"


def test_dry_run_answers_the_seed_result(client, demo):
    r = generate(client, body={"dryRun": True})
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= SEED_RESULT_KEYS
    assert (body["ok"], body["workItemId"], body["dryRun"], body["overwrite"]) == (True, "7", True, False)
    assert len(body["generated"]) == 12 and body["skippedExisting"] == [] and body["missingShots"] == []
    assert set(body["generated"][0]) == {"shot_id", "filename", "width", "height"}


def test_dry_run_reports_missing_shots(client, demo):
    body = generate(client, body={"dryRun": True, "shotIds": ["OL-2", "NOPE"]}).json()
    assert body["missingShots"] == ["NOPE"] and {g["shot_id"] for g in body["generated"]} == {"OL-2"}


@pytest.mark.parametrize("work_item_id", ["15", "no-such-item"])
def test_no_pack_is_lifestyle_pack_not_found(client, demo, work_item_id):
    r = generate(client, work_item_id, body={"dryRun": False, "overwrite": False})
    assert r.status_code == 404 and r.json()["error"] == "LIFESTYLE_PACK_NOT_FOUND"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"shotIds": []}, "shotIds"),
        ({"dryRun": "yes"}, "dryRun"),
        ({"shotIds": "OL-1"}, "shotIds"),
        ({"force": True}, "force"),
    ],
)
def test_bad_options_are_invalid_request_with_details(client, demo, body, field):
    r = generate(client, body=body)
    assert r.status_code == 400
    assert r.json()["error"] == "INVALID_REQUEST"
    assert field in {d["field"] for d in r.json()["details"]}


def test_malformed_json_is_invalid_request(client, demo):
    r = client.post(
        "/api/work-items/7/generate-lifestyle-heroes", content=b"{dryRun:", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["error"] == "INVALID_REQUEST"


def test_regenerate_one_shot_waits_and_answers_the_result(client, demo):
    r = generate(client, body={"shotIds": ["OL-2"], "dryRun": False, "overwrite": True})
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= SEED_RESULT_KEYS and body["ok"] is True and body["dryRun"] is False
    assert [(g["shot_id"], g["width"], g["height"]) for g in body["generated"]] == [
        ("OL-2", 1920, 800),
        ("OL-2", 1536, 768),
        ("OL-2", 750, 1000),
    ]
    for item in body["generated"]:  # the spec's client loads ASSET_BASE_URL + filename
        image = client.get(get_settings().asset_base_url + item["filename"])
        assert image.status_code == 200 and image.headers["content-type"] == "image/png" and image.content
    row = client.get("/api/work-items/7").json()["exportPlan"][3]
    assert row["shot_id"] == "OL-2" and row["url"] and row["url"] != "/assets/" + row["filename"]
    versioned = client.get(row["url"])
    assert versioned.status_code == 200 and "immutable" in versioned.headers["cache-control"]


def test_prefer_respond_async_answers_202_with_the_job(client, demo):
    r = generate(client, body={"shotIds": ["OL-1"], "overwrite": True}, headers={"Prefer": "respond-async"})
    assert r.status_code == 202
    body = r.json()
    assert set(body) == {"jobId", "workItemId", "message"} and body["jobId"].startswith("job_") and body["message"]
    assert r.headers["location"] == f"/api/v1/jobs/{body['jobId']}"
    assert r.headers["preference-applied"] == "respond-async"
    wait_for_job(body["jobId"], timeout=120)
    job = client.get(r.headers["location"]).json()
    assert job["status"] == "succeeded" and job["result"]["generated"][0]["shot_id"] == "OL-1"


@pytest.mark.parametrize("how", ["setting", "prefer-wait"])
def test_wait_limit_passed_answers_202(client, demo, monkeypatch, how):
    headers = {}
    if how == "setting":
        monkeypatch.setenv("RESHOOT_API_WAIT_SECONDS", "0.01")  # no job is queued, generated and stored in 10 ms
        get_settings.cache_clear()
    else:
        headers["Prefer"] = "wait=0"
    r = generate(client, body={"shotIds": ["OL-3"], "overwrite": True}, headers=headers)
    assert r.status_code == 202 and r.json()["jobId"].startswith("job_")
    assert r.headers["location"] == f"/api/v1/jobs/{r.json()['jobId']}" and "preference-applied" not in r.headers
    assert wait_for_job(r.json()["jobId"], timeout=120).status == "succeeded"


def test_failed_job_answers_its_error_with_a_meaningful_status(client, demo, failing_backend):
    r = generate(client, body={"shotIds": ["OL-4"], "overwrite": True})
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "BACKEND_CONTENT_REJECTED"
    assert body["details"]["errorCode"] == "BACKEND_CONTENT_REJECTED" and body["details"]["jobId"].startswith("job_")
    assert body["details"]["failed"][0]["shot_id"] == "OL-4"
    assert "Traceback" not in r.text


def test_unexpected_exception_is_internal_error(client, demo, monkeypatch):
    from services import lifestyle

    def boom(*args, **kwargs):
        raise RuntimeError("database exploded at /secret/path")

    monkeypatch.setattr(lifestyle, "generate_lifestyle_heroes", boom)
    r = generate(client, body={"dryRun": True})
    assert r.status_code == 500 and r.json() == {"error": "INTERNAL_ERROR"}
    assert "secret" not in r.text
