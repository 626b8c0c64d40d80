"""Storyboard and Scene Inspector (seed 002): prompt editing with dirty flags, regeneration with a seed, history."""

from __future__ import annotations

from services import messages
from services.config import get_settings
from services.jobs import wait_for_job
from services.storyboard import get_sentence
from tests.pages.conftest import open_page, texts

PAGE = "pages/storyboard.py"
PROJECT = "coffee-origins"


def select(at, row: int):
    at.session_state[f"sb_table_{PROJECT}"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return at.run()


def finish_job(at, sentence_id: str) -> dict:
    job = wait_for_job(at.session_state[f"sb_job_{sentence_id}"], timeout=60)
    at.run()
    return job


def test_table_lists_sections_and_sentences(demo):
    at = open_page(PAGE)
    table = at.dataframe[0].value
    assert len(table) == 12
    assert list(table["#"][:3]) == ["1.1", "1.2", "1.3"] and table["#"].iloc[6] == "2.1"
    assert table["Prompt"].iloc[2] == "(no prompt)"
    assert set(table["Dirty"]) == {"● image · video"}
    assert "Select a sentence in the table to open the Scene Inspector." in texts(at)


def test_inspector_shows_the_seed_copy(demo):
    at = select(open_page(PAGE), 2)  # sent_003 has no prompt
    assert [t.label for t in at.tabs] == ["IMAGE", "VIDEO"]
    prompt = at.text_area(key="sb_prompt_sent_003")
    assert prompt.label == messages.PROMPT_LABEL and prompt.placeholder == messages.PROMPT_PLACEHOLDER
    shown = texts(at)
    assert messages.NO_IMAGE in shown and messages.PROMPT_RECOMMENDATION in shown and "0 characters" in shown
    regenerate = at.button(key="sb_regenerate_sent_003")
    assert regenerate.label == messages.REGENERATE_IMAGE and regenerate.disabled  # empty prompt
    assert at.button(key="sb_reseed_sent_003").label == messages.REGENERATE_WITH_NEW_SEED
    assert at.number_input(key="sb_seed_sent_003").help == messages.SEED_TOOLTIP


def test_regenerate_with_a_seed_records_it_and_a_prompt_edit_sets_both_dirty_flags(demo):
    at = select(open_page(PAGE), 0)
    at.number_input(key="sb_seed_sent_001").set_value(12345).run()
    at.button(key="sb_reseed_sent_001").click().run()
    busy = at.button(key="sb_regenerate_sent_001")
    assert busy.label == messages.REGENERATE_IMAGE_LOADING and busy.disabled
    assert at.text_area(key="sb_prompt_sent_001").disabled
    assert finish_job(at, "sent_001")["status"] == "succeeded"
    sentence = get_sentence("sent_001")
    assert sentence["seed"] == 12345 and sentence["imageFile"] and not sentence["isImageDirty"]
    assert "Seed 12345" in texts(at) and at.dataframe[0].value["Dirty"].iloc[0] == "● video"
    assert any("/assets/storyboard/coffee-origins/sent_001/" in u for image in at.image for u in image.value)
    assert messages.PROMPT_DIRTY not in texts(at)

    at.text_area(key="sb_prompt_sent_001").input("A foggy hillside at dawn, terraced coffee rows, one walker").run()
    sentence = get_sentence("sent_001")
    assert sentence["imagePrompt"].startswith("A foggy hillside")
    assert sentence["isImageDirty"] and sentence["isVideoDirty"]
    assert messages.PROMPT_DIRTY in texts(at)
    assert at.dataframe[0].value["Dirty"].iloc[0] == "● image · video"


def test_failed_generation_shows_the_error_and_retry(demo, monkeypatch):
    at = select(open_page(PAGE), 1)
    monkeypatch.setenv("RESHOOT_IMAGE_BACKEND", "openai")  # no OPENAI_API_KEY: the job fails
    get_settings.cache_clear()
    at.button(key="sb_regenerate_sent_002").click().run()
    assert finish_job(at, "sent_002")["status"] == "failed"
    assert any("Image generation failed" in e.value and "OPENAI_API_KEY" in e.value for e in at.error)
    monkeypatch.setenv("RESHOOT_IMAGE_BACKEND", "local")
    get_settings.cache_clear()
    at.button(key="sb_retry_sent_002").click().run()
    assert finish_job(at, "sent_002")["status"] == "succeeded"
    assert not at.error and get_sentence("sent_002")["imageFile"]


def test_before_after_and_earlier_versions(demo):
    at = select(open_page(PAGE), 3)
    for seed in (1, 2):
        at.number_input(key="sb_seed_sent_004").set_value(seed).run()
        at.button(key="sb_reseed_sent_004").click().run()
        finish_job(at, "sent_004")
    shown = texts(at)
    assert "Before / after" in shown and "Earlier versions" in shown and "v1 · seed 1" in shown
    first = get_sentence("sent_004")["versionId"]
    [restore] = [b for b in at.button if b.key and b.key.startswith("sb_restore_") and b.key.endswith("sent_004")]
    restore.click().run()
    assert get_sentence("sent_004")["versionId"] != first
    assert get_sentence("sent_004")["seed"] == 1
    [favourite] = [b for b in at.button if b.key and b.key.startswith("sb_favourite_")]
    favourite.click().run()
    assert "★" in texts(at)
