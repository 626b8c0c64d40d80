"""Jobs page: every job with status, progress, target, duration and error; retry a failed one."""

from __future__ import annotations

from typing import Any

from services.config import get_settings
from services.identity import local_user_name
from services.jobs import get_job, job_public, list_jobs, wait_for_job
from services.lifestyle import GenerateHeroesOptions, start_heroes_job
from services.models import Job
from services.read_models.heroes import FailedShot, GeneratedTarget, HeroesJobResult
from services.read_models.jobs import JobPublic
from services.storyboard import RegenerateImageOptions, regenerate_sentence_image
from tests.pages.conftest import open_page, texts
from ui.jobs_table import jobs_key, progress
from ui.toasts import escape_markdown, toast_text

PAGE = "pages/jobs.py"


def test_lists_jobs_and_retries_a_failed_one(demo, monkeypatch):
    wait_for_job(
        start_heroes_job(work_item_id="21", options=GenerateHeroesOptions(shot_ids=["HO-2"])).job_id, timeout=60
    )
    monkeypatch.setenv("RESHOOT_IMAGE_BACKEND", "openai")  # no key: this one fails
    get_settings.cache_clear()
    started = regenerate_sentence_image(sentence_id="sent_001", options=RegenerateImageOptions(seed=7))
    failed = wait_for_job(started.job_id, timeout=60)
    assert failed.status == "failed"
    monkeypatch.setenv("RESHOOT_IMAGE_BACKEND", "local")
    get_settings.cache_clear()

    at = open_page(PAGE)
    table = at.dataframe[0].value
    assert list(table["Job"]) == [failed.id, list_jobs()[1].id]
    newest, oldest = table.iloc[0], table.iloc[1]
    assert newest["Status"] == "✕ failed" and newest["Target"] == "Sentence sent_001"
    assert newest["Error"].endswith(" (BACKEND_MISCONFIGURED)") and newest["Error"].startswith("The OpenAI backend")
    assert newest["Progress"] == "0 of 1 made · failed"
    assert oldest["Status"] == "✓ succeeded" and oldest["Progress"] == "3 of 3"
    assert oldest["Target"] == "Work item 21 · HO-2" and oldest["Duration"].endswith("s")
    assert newest["By"] == oldest["By"] == local_user_name()  # who asked (the local user outside a sign-in)

    at.segmented_control(key=jobs_key("status")).set_value("failed").run()
    assert list(at.dataframe[0].value["Job"]) == [failed.id]
    at.session_state[jobs_key("table")] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert at.error[0].value == escape_markdown(newest["Error"])  # the whole error, wrapped, in the details
    at.button(key=jobs_key("retry", failed.id)).click().run()
    retried = list_jobs()[0]
    assert retried.id != failed.id and retried.params["seed"] == 7
    assert wait_for_job(retried.id, timeout=60).status == "succeeded"
    assert toast_text("Job queued again", f"Retrying as {retried.id}.") in [t.value for t in at.toast]
    assert get_job(failed.id).status == "failed"


def test_no_jobs_yet(demo):
    at = open_page(PAGE)
    assert "No jobs yet." in texts(at)


def a_job(fields: dict[str, Any]) -> JobPublic:
    """A heroes job with these camelCase fields."""
    return JobPublic.model_validate(
        job_public(Job(kind="lifestyle_heroes", target_key="heroes:7:*")).model_dump() | fields
    )


def heroes_result(made: int, failed: list[str]) -> dict[str, Any]:
    """A generate-all job's result JSON: `made` images generated, these shots failed."""
    generated = [GeneratedTarget(shot_id="OL-1", filename="fcc/lifestyle/7/OL-1/desktop.png", width=8, height=8)]
    return HeroesJobResult(
        work_item_id="7",
        dry_run=False,
        overwrite=False,
        generated=generated * made,
        skipped_existing=[],
        missing_shots=[],
        failed=[FailedShot(shot_id=shot_id, error="BACKEND_ERROR") for shot_id in failed],
    ).model_dump(mode="json")


def test_a_failed_job_does_not_look_complete():
    """Its counter counts attempts: 12 of 12 attempted, 3 made, is not `12 of 12`."""
    base = {"progressDone": 12, "progressTotal": 12}
    every_shot_failed = {**base, "status": "failed", "result": heroes_result(0, ["OL-1", "OL-2", "OL-3", "OL-4"])}
    assert progress(a_job(every_shot_failed)) == "0 of 12 made · failed"
    some_failed = {**base, "status": "succeeded", "result": heroes_result(9, ["OL-4"])}
    assert progress(a_job(some_failed)) == "9 of 12 made · 1 shot failed"
    assert progress(a_job({**base, "status": "succeeded", "result": heroes_result(12, [])})) == "12 of 12"
    assert progress(a_job({"progressDone": 5, "progressTotal": 12, "status": "running"})) == "5 of 12"
    assert progress(a_job({"progressDone": 0, "progressTotal": 0, "status": "queued"})) == ""
