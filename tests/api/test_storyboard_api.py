"""Sentences (spec 002): prompt edits, regenerate-image with the spec's loose bodies, jobs, and the events WebSocket."""

from __future__ import annotations

import json

import pytest

from services.jobs import wait_for_job

PROJECT = "coffee-origins"


def regenerate(client, sentence_id="sent_001", **kwargs):
    return client.post(f"/api/v1/sentences/{sentence_id}/regenerate-image", **kwargs)


def test_put_sentence_saves_prompt_and_sets_both_flags(client, demo):
    r = client.put(
        "/api/v1/sentences/sent_002",
        json={"imagePrompt": "A wide shot of a coffee plantation", "isImageDirty": True, "isVideoDirty": True},
    )
    assert r.status_code == 200
    body = r.json()
    assert (body["id"], body["projectId"], body["imagePrompt"]) == (
        "sent_002",
        PROJECT,
        "A wide shot of a coffee plantation",
    )
    assert body["isImageDirty"] is True and body["isVideoDirty"] is True
    assert client.get("/api/v1/sentences/sent_002").json()["imagePrompt"] == "A wide shot of a coffee plantation"


def test_put_sentence_flags_false_do_not_clear_dirty(client, demo):
    body = client.put(
        "/api/v1/sentences/sent_004", json={"imagePrompt": "Edited", "isImageDirty": False, "isVideoDirty": False}
    ).json()
    assert body["isImageDirty"] is True and body["isVideoDirty"] is True


def test_put_sentence_with_text_plain_body(client, demo):
    r = client.put(
        "/api/v1/sentences/sent_005",
        content=json.dumps({"imagePrompt": "Roasting drum"}),
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 200 and r.json()["imagePrompt"] == "Roasting drum"


@pytest.mark.parametrize("body", [b"", b"{}", b'{"imagePrompt": 5}', b'{"imagePrompt": "x", "extra": 1}', b"nonsense"])
def test_put_sentence_bad_body_is_invalid_request(client, demo, body):
    r = client.put("/api/v1/sentences/sent_002", content=body)
    assert r.status_code == 400 and r.json()["error"] == "INVALID_REQUEST" and r.json()["details"]


def test_unknown_sentence_is_the_seeds_404(client, demo):
    assert client.put("/api/v1/sentences/sent_nope", json={"imagePrompt": "x"}).json() == {
        "error": "Sentence not found"
    }
    r = regenerate(client, "sent_nope", content=b"{}")
    assert r.status_code == 404 and r.json() == {"error": "Sentence not found"}
    assert client.get("/api/v1/sentences/sent_nope").status_code == 404


def test_no_prompt_is_the_seeds_400(client, demo):
    r = regenerate(client, "sent_003", content=b"{}")
    assert r.status_code == 400 and r.json() == {"error": "No image prompt to generate from"}


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b'{"seed": 12345}', {}),  # the spec's fetch: no Content-Type at all
        (b'{"seed": 12345}', {"Content-Type": "text/plain;charset=UTF-8"}),  # what a browser sends for a string body
        (b"{}", {}),  # JSON.stringify({seed: undefined})
        (b"", {}),  # no body
        (b'{"seed": null}', {"Content-Type": "application/json"}),
    ],
)
def test_regenerate_accepts_the_seed_clients_bodies(client, demo, content, headers):
    r = regenerate(client, content=content, headers=headers)
    assert r.status_code == 202
    body = r.json()
    assert body["message"] == "Image regeneration started" and body["jobId"].startswith("job_")
    assert r.headers["location"] == f"/api/v1/jobs/{body['jobId']}"
    job = wait_for_job(body["jobId"], timeout=120)
    assert job.status == "succeeded"
    if b"12345" in content:
        assert client.get("/api/v1/sentences/sent_001").json()["seed"] == 12345


@pytest.mark.parametrize("content", [b'{"seed": "42"}', b'{"seed": true}', b'{"seed": 1.5}', b'{"sead": 1}', b"[42]"])
def test_regenerate_bad_seed_is_invalid_request(client, demo, content):
    r = regenerate(client, content=content)
    assert r.status_code == 400 and r.json()["error"] == "INVALID_REQUEST"


def test_job_status_and_unknown_job(client, demo):
    job_id = regenerate(client, json={"seed": 7}).json()["jobId"]
    wait_for_job(job_id, timeout=120)
    job = client.get(f"/api/v1/jobs/{job_id}").json()
    assert job["id"] == job_id and job["status"] == "succeeded" and job["kind"]
    assert (job["progressDone"], job["progressTotal"]) == (1, 1)
    r = client.get("/api/v1/jobs/job_nope")
    assert r.status_code == 404 and r.json()["error"] == "JOB_NOT_FOUND"


def test_projects_and_storyboard(client, demo):
    projects = client.get("/api/v1/projects").json()
    assert projects["ok"] is True and [p["id"] for p in projects["projects"]] == [PROJECT]
    board = client.get(f"/api/v1/projects/{PROJECT}").json()
    assert len(board["sections"]) == 2 and board["sections"][0]["sentences"][0]["id"] == "sent_001"
    r = client.get("/api/v1/projects/nope")
    assert r.status_code == 404 and r.json()["error"] == "PROJECT_NOT_FOUND"


@pytest.mark.timeout(180)
def test_websocket_sends_job_complete_after_a_regenerate(client, demo):
    with client.websocket_connect(f"/api/v1/projects/{PROJECT}/events") as ws:
        job_id = regenerate(client, "sent_002", content=b'{"seed": 42}').json()["jobId"]
        event = ws.receive_json()
    assert {k: event[k] for k in ("type", "jobType", "sentenceId", "jobId")} == {
        "type": "job_complete",
        "jobType": "image",
        "sentenceId": "sent_002",
        "jobId": job_id,
    }
    sentence = client.get("/api/v1/sentences/sent_002").json()
    assert sentence["isImageDirty"] is False and sentence["isVideoDirty"] is True and sentence["seed"] == 42
    image = client.get(sentence["imageFile"])
    assert image.status_code == 200 and image.headers["content-type"].startswith("image/")


@pytest.mark.timeout(180)
def test_websocket_sends_job_failed(client, demo, failing_backend):
    with client.websocket_connect(f"/api/v1/projects/{PROJECT}/events") as ws:
        job_id = regenerate(client, "sent_004", content=b"").json()["jobId"]
        event = ws.receive_json()
    assert (event["type"], event["jobType"], event["sentenceId"], event["jobId"]) == (
        "job_failed",
        "image",
        "sent_004",
        job_id,
    )


@pytest.mark.timeout(180)
def test_websocket_hears_only_new_events_unless_asked_to_replay(client, demo):
    first = regenerate(client, "sent_001", content=b"").json()["jobId"]
    wait_for_job(first, timeout=120)
    with client.websocket_connect(f"/api/v1/projects/{PROJECT}/events") as ws:
        second = regenerate(client, "sent_002", content=b"").json()["jobId"]
        assert ws.receive_json()["jobId"] == second
    with client.websocket_connect(f"/api/v1/projects/{PROJECT}/events?after=0") as ws:
        assert [ws.receive_json()["jobId"], ws.receive_json()["jobId"]] == [first, second]


def test_regenerate_with_another_seed_while_one_runs_is_409_with_the_running_job(client, demo, fake_backend):
    fake_backend.delay = 3.0  # the first job must still run when the third request comes
    first = regenerate(client, json={"seed": 4294967296})
    assert first.status_code == 202
    same = regenerate(client, json={"seed": 4294967296})
    assert same.status_code == 202 and same.json()["jobId"] == first.json()["jobId"]
    other = regenerate(client, json={"seed": 9223372036854775807})
    assert other.status_code == 409
    assert other.json() == {
        "error": "ALREADY_GENERATING",
        "details": {"jobId": first.json()["jobId"], "seed": 4294967296},
    }
    assert wait_for_job(first.json()["jobId"], timeout=60).status == "succeeded"
    assert len(fake_backend.calls) == 1


def test_openapi_describes_every_field_the_storyboard_endpoints_send(client, demo):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]

    def described(body: dict, name: str) -> None:
        properties = schemas[name]["properties"]
        assert set(body) == set(properties) == set(schemas[name]["required"]), name
        for key, spec in properties.items():
            ref = spec.get("$ref") or spec.get("items", {}).get("$ref")
            if ref and body[key]:
                described(body[key][0] if isinstance(body[key], list) else body[key], ref.rsplit("/", 1)[1])

    described(client.get("/api/v1/projects").json(), "ProjectList")
    described(client.get(f"/api/v1/projects/{PROJECT}").json(), "StoryboardOut")  # cast, sections, sentences
    described(client.put("/api/v1/sentences/sent_002", json={"imagePrompt": "x"}).json(), "SentenceOut")
    described(regenerate(client, content=b"").json(), "ImageJobStarted")


def test_openapi_describes_every_field_the_job_endpoint_sends(client, demo):
    job_id = regenerate(client, json={"seed": 7}).json()["jobId"]
    wait_for_job(job_id, timeout=120)
    schema = client.get("/openapi.json").json()["components"]["schemas"]["JobOut"]
    body = client.get(f"/api/v1/jobs/{job_id}").json()
    assert list(body) == list(schema["properties"]) and set(schema["required"]) == set(body)  # "ok" first, as sent
    assert body["ok"] is True and body["status"] == "succeeded" and "plan" not in body
    assert schema["properties"]["status"]["$ref"].endswith("/JobStatus")


def test_a_sentence_is_sent_with_its_keys_in_the_order_clients_have_always_had(client, demo):
    spec = ["id", "projectId", "imagePrompt", "imageFile", "isImageDirty", "isVideoDirty", "seed", "seedHonoured"]
    ours = ["updatedAt", "ok", "sectionId", "position", "text", "thumbUrl", "versionId", "activeJobId"]
    assert list(client.get("/api/v1/sentences/sent_001").json()) == spec + ours
    assert list(client.put("/api/v1/sentences/sent_001", json={"imagePrompt": "x"}).json()) == spec + ours
    board = client.get(f"/api/v1/projects/{PROJECT}").json()
    assert list(board) == ["ok", "id", "title", "sections", "cast"]
    assert list(board["sections"][0]["sentences"][0]) == [key for key in spec + ours if key != "ok"]
