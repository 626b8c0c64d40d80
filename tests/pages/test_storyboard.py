"""Storyboard and Scene Inspector (spec 002): prompt editing with dirty flags, regeneration with a seed, history."""

from __future__ import annotations

import json

import pytest
from streamlit.components.v2.bidi_component.main import _make_trigger_id

from services import messages
from services.config import get_settings
from services.jobs import wait_for_job
from services.storyboard import UpdateSentenceOptions, get_sentence, update_sentence
from tests.pages.conftest import open_page, texts
from ui import job_progress
from ui.scene_inspector import inspector_key
from ui.storyboard_table import storyboard_key

PAGE = "pages/storyboard.py"
PROJECT = "coffee-origins"


def select(at, row: int):
    at.session_state[storyboard_key("table", PROJECT)] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return at.run()


def prompt_data(at, sentence_id: str) -> dict:
    """What the prompt editor (a Components v2 element) was given to show."""
    [editor] = [e for e in at.get("bidi_component") if e.key == inspector_key("prompt", sentence_id)]
    return json.loads(editor.proto.json)


def type_prompt(at, sentence_id: str, text: str):
    """What the editor's JavaScript sends after the user paused typing: its `save` trigger with the text."""
    [editor] = [e for e in at.get("bidi_component") if e.key == inspector_key("prompt", sentence_id)]
    states = at._tree.get_widget_states()
    trigger = states.widgets.add()
    trigger.id = _make_trigger_id(editor.proto.id, "events")
    trigger.json_trigger_value = json.dumps([{"event": "save", "value": text}])
    return at._run(states)


@pytest.fixture
def no_quick_wait(monkeypatch):
    """A click does not wait for its job: the progress path, as for a slow backend."""
    monkeypatch.setattr(job_progress, "QUICK_WAIT_SECONDS", 0.0)


def finish_job(at, sentence_id: str) -> None:
    """Let the job this session waits for end (a short one has ended inside the click already), then rerun."""
    job_key = inspector_key("job", sentence_id)
    if job_key in at.session_state:
        wait_for_job(at.session_state[job_key], timeout=60)
        at.run()


def test_table_lists_sections_and_sentences(demo):
    at = open_page(PAGE)
    table = at.dataframe[0].value
    assert len(table) == 12
    assert list(table["#"][:3]) == ["1.1", "1.2", "1.3"] and table["#"].iloc[6] == "2.1"
    assert table["Prompt"].iloc[2] == "(no prompt)"
    assert set(table["Dirty"]) == {"● image · video"}
    assert "Select a sentence in the table to open the Scene Inspector." in texts(at)


def test_inspector_shows_the_spec_copy(demo):
    at = select(open_page(PAGE), 2)  # sent_003 has no prompt
    assert [t.label for t in at.tabs] == ["IMAGE", "VIDEO"]
    prompt = prompt_data(at, "sent_003")
    assert (prompt["label"], prompt["placeholder"], prompt["hint"]) == (
        messages.PROMPT_LABEL,
        messages.PROMPT_PLACEHOLDER,
        messages.PROMPT_RECOMMENDATION,
    )
    assert prompt["value"] == "" and prompt["debounceMs"] == 500 and not prompt["disabled"]
    assert messages.NO_IMAGE in texts(at)
    regenerate = at.button(key=inspector_key("regenerate", "sent_003"))
    assert regenerate.label == messages.REGENERATE_IMAGE and regenerate.disabled  # empty prompt
    assert at.button(key=inspector_key("reseed", "sent_003")).label == messages.REGENERATE_WITH_NEW_SEED
    seed = at.text_input(key=inspector_key("seed", "sent_003"))
    assert seed.help.startswith(messages.SEED_TOOLTIP) and seed.placeholder == "Random" and seed.value == ""


def test_regenerate_with_a_typed_seed_records_it_and_a_prompt_edit_sets_both_dirty_flags(
    demo, no_quick_wait, backend_gate
):
    at = select(open_page(PAGE), 0)
    at.text_input(key=inspector_key("seed", "sent_001")).input("12345").run()
    at.button(key=inspector_key("regenerate", "sent_001")).click().run()
    busy = at.button(key=inspector_key("regenerate", "sent_001"))
    assert busy.label == messages.REGENERATE_IMAGE_LOADING and busy.disabled
    assert prompt_data(at, "sent_001")["disabled"]
    backend_gate.set()
    finish_job(at, "sent_001")
    sentence = get_sentence("sent_001")
    assert sentence.seed == 12345 and sentence.image_file and not sentence.is_image_dirty
    assert "Seed 12345" in texts(at) and at.dataframe[0].value["Dirty"].iloc[0] == "● video"
    assert any("/assets/storyboard/coffee-origins/sent_001/" in u for image in at.image for u in image.value)
    assert messages.PROMPT_DIRTY not in texts(at)

    type_prompt(at, "sent_001", "A foggy hillside at dawn, terraced coffee rows, one walker")
    sentence = get_sentence("sent_001")
    assert sentence.image_prompt.startswith("A foggy hillside")
    assert sentence.is_image_dirty and sentence.is_video_dirty
    assert messages.PROMPT_DIRTY in texts(at)
    assert at.dataframe[0].value["Dirty"].iloc[0] == "● image · video"
    assert prompt_data(at, "sent_001")["value"].startswith("A foggy hillside")


def test_a_prompt_saved_in_another_session_reaches_this_one_on_its_next_run(demo):
    at = select(open_page(PAGE), 1)
    update_sentence(sentence_id="sent_002", options=UpdateSentenceOptions(image_prompt="Saved from another tab"))
    at.run()
    assert prompt_data(at, "sent_002")["value"] == "Saved from another tab"


def seed_run(at, sentence_id: str, *, typed: str | None, button: str) -> int:
    """Type `typed` into the seed field (None: leave it), click `button`, finish the job: the seed it used."""
    if typed is not None:
        at.text_input(key=inspector_key("seed", sentence_id)).input(typed).run()
    version = get_sentence(sentence_id).version_id
    at.button(key=inspector_key(button, sentence_id)).click().run()
    finish_job(at, sentence_id)
    sentence = get_sentence(sentence_id)
    assert sentence.version_id != version, "no new image"
    return sentence.seed


def test_seed_semantics_typed_empty_minus_one_and_new_seed(demo):
    at = select(open_page(PAGE), 0)
    assert seed_run(at, "sent_001", typed="4242", button="regenerate") == 4242
    assert at.text_input(key=inspector_key("seed", "sent_001")).value == "4242"  # the field shows the seed used
    assert seed_run(at, "sent_001", typed=None, button="regenerate") == 4242  # again: reproduced

    fresh = seed_run(at, "sent_001", typed=None, button="reseed")  # always a new random one
    assert fresh != 4242 and at.text_input(key=inspector_key("seed", "sent_001")).value == str(fresh)
    assert get_sentence("sent_001").seed == fresh

    random_seeds = {seed_run(at, "sent_001", typed=typed, button="regenerate") for typed in ("", "-1")}
    assert len(random_seeds) == 2 and 4242 not in random_seeds and fresh not in random_seeds

    assert seed_run(at, "sent_001", typed=str(2**64 + 7), button="regenerate") == 7  # reduced to the range
    assert get_sentence("sent_001").seed == 7 and at.text_input(key=inspector_key("seed", "sent_001")).value == "7"


@pytest.mark.parametrize("typed", ["forty-two", "1.5"])
def test_a_seed_that_is_not_a_whole_number_is_refused_in_the_inspector(demo, typed):
    at = select(open_page(PAGE), 0)
    at.text_input(key=inspector_key("seed", "sent_001")).input(typed).run()
    at.button(key=inspector_key("regenerate", "sent_001")).click().run()
    assert any("The seed must be a whole number" in e.value for e in at.error)
    assert inspector_key("job", "sent_001") not in at.session_state and get_sentence("sent_001").active_job_id is None


def test_a_storyboard_link_opens_the_project_and_the_sentence(demo):
    at = open_page(PAGE, project="coffee-origins", sentence="sent_004")
    assert at.selectbox(key=storyboard_key("project")).value == "coffee-origins"
    assert at.session_state[storyboard_key("table", PROJECT)]["selection"]["rows"] == [3]
    assert prompt_data(at, "sent_004")["value"] == get_sentence("sent_004").image_prompt
    assert at.query_params["sentence"] == "sent_004"


def test_a_short_job_shows_its_image_in_the_clicks_own_rerun(demo, monkeypatch):
    monkeypatch.setattr(job_progress, "QUICK_WAIT_SECONDS", 120.0)  # "short" on any machine: ends within the wait
    at = select(open_page(PAGE), 0)
    at.button(key=inspector_key("regenerate", "sent_001")).click().run()
    sentence = get_sentence("sent_001")
    assert inspector_key("job", "sent_001") not in at.session_state and sentence.active_job_id is None
    assert any(sentence.image_file in u for image in at.image for u in image.value)
    assert (
        f"Seed {sentence.seed}" in texts(at)
        and at.button(key=inspector_key("regenerate", "sent_001")).label == messages.REGENERATE_IMAGE
    )
    assert any("Image regenerated" in t.value for t in at.toast)


def test_failed_generation_shows_the_error_and_retry(demo, monkeypatch, no_quick_wait, backend_gate):
    at = select(open_page(PAGE), 1)
    monkeypatch.setenv("RESHOOT_IMAGE_BACKEND", "openai")  # no OPENAI_API_KEY: the job fails
    get_settings.cache_clear()
    at.button(key=inspector_key("regenerate", "sent_002")).click().run()
    assert (
        at.button(key=inspector_key("regenerate", "sent_002")).label == messages.REGENERATE_IMAGE_LOADING
    )  # held at the gate
    backend_gate.set()
    finish_job(at, "sent_002")
    assert any("Image generation failed" in e.value and "OPENAI_API_KEY" in e.value for e in at.error)
    monkeypatch.setenv("RESHOOT_IMAGE_BACKEND", "local")
    get_settings.cache_clear()
    backend_gate.clear()
    at.button(key=inspector_key("retry", "sent_002")).click().run()
    assert (
        at.button(key=inspector_key("regenerate", "sent_002")).label == messages.REGENERATE_IMAGE_LOADING
        and not at.error
    )
    backend_gate.set()
    finish_job(at, "sent_002")
    assert not at.error and get_sentence("sent_002").image_file
    assert at.button(key=inspector_key("regenerate", "sent_002")).label == messages.REGENERATE_IMAGE


def test_before_after_and_earlier_versions(demo):
    at = select(open_page(PAGE), 3)
    for seed in (1, 2):
        at.text_input(key=inspector_key("seed", "sent_004")).input(str(seed)).run()
        at.button(key=inspector_key("regenerate", "sent_004")).click().run()
        finish_job(at, "sent_004")
    shown = texts(at)
    assert "Before / after" in shown and "Earlier versions" in shown
    assert any(c.value.startswith("v1  \nseed 1  \nby ") for c in at.caption)  # one line each: fits the card
    first = get_sentence("sent_004").version_id
    [restore] = [b for b in at.button if b.key and b.key.startswith("sb_restore_") and b.key.endswith("sent_004")]
    restore.click().run()
    assert get_sentence("sent_004").version_id != first
    assert get_sentence("sent_004").seed == 1
    [favourite] = [b for b in at.button if b.key and b.key.startswith("sb_favourite_")]
    favourite.click().run()
    assert "★" in texts(at)


def test_a_seed_the_backend_ignored_says_so_where_the_seed_is_shown(demo, fake_openai, monkeypatch):
    monkeypatch.setenv("RESHOOT_IMAGE_BACKEND", "openai")
    get_settings.cache_clear()
    at = select(open_page(PAGE), 3)
    for seed in (1, 2):
        at.text_input(key=inspector_key("seed", "sent_004")).input(str(seed)).run()
        at.button(key=inspector_key("regenerate", "sent_004")).click().run()
        finish_job(at, "sent_004")
    at.run()
    shown = texts(at)
    assert "v1  \nseed not used by this backend" in shown and "v1  \nseed 1" not in shown
    assert "Seed not used by this backend" in shown
