"""Storyboard (spec 002): prompt edits set both dirty flags; one-image regeneration with a seed."""

from __future__ import annotations

import dataclasses
import io
import time

import pytest
from PIL import Image
from pydantic import ValidationError

from services import jobs, storyboard, versions
from services.backends import BackendUnavailable, Deadline, comfyui
from services.config import get_settings
from services.errors import ReshootError
from services.read_models.storyboard import SentenceImageParams
from services.storage import get_storage

PROJECT = "coffee-origins"


def regenerate(sentence_id="sent_001", seed=None):
    started = storyboard.regenerate_sentence_image(
        sentence_id=sentence_id, options=storyboard.RegenerateImageOptions(seed=seed)
    )
    assert started.message == "Image regeneration started"
    return jobs.wait_for_job(started.job_id, timeout=30)


def current_pixels(sentence_id="sent_001") -> bytes:
    """The current image's pixels (the stored file also carries its version number in a text chunk)."""
    [current] = [v for v in versions.list_versions("sentence", sentence_id) if v.is_current]
    return pixels(get_storage().get(current.storage_key))


def pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return image.tobytes()


def test_editing_the_prompt_sets_both_dirty_flags(demo, fake_backend):
    regenerate()
    assert storyboard.get_sentence("sent_001").is_image_dirty is False
    sentence = storyboard.update_sentence(
        sentence_id="sent_001",
        options=storyboard.UpdateSentenceOptions(image_prompt="A wide shot of a coffee plantation at dawn"),
    )
    assert sentence.image_prompt == "A wide shot of a coffee plantation at dawn"
    assert (sentence.is_image_dirty, sentence.is_video_dirty) == (True, True)
    assert sentence.id == "sent_001" and sentence.project_id == PROJECT
    assert storyboard.get_sentence("sent_001") == sentence


def test_regenerate_replaces_the_image_clears_image_dirty_only_and_records_the_event(demo, fake_backend):
    before = storyboard.get_sentence("sent_002")
    assert before.image_file is None and before.is_image_dirty and before.is_video_dirty
    job = regenerate("sent_002", seed=12345)
    assert job.status == "succeeded" and job.sentence_id == "sent_002" and job.project_id == PROJECT
    after = storyboard.get_sentence("sent_002")
    assert after.image_file == job.result["imageFile"] and after.image_file.startswith("/assets/storyboard/")
    assert (after.is_image_dirty, after.is_video_dirty, after.seed) == (False, True, 12345)
    assert after.active_job_id is None
    # The result JSON read typed: this kind's model, not another's.
    result = job.image_result()
    assert result and (result.sentence_id, result.seed, result.image_file) == ("sent_002", 12345, after.image_file)
    assert result.version_id == after.version_id and job.heroes_result() is None
    # So is its request: the same JSON as before, its own kind's model.
    assert job.params == {"prompt": after.image_prompt, "seed": 12345, "seedGiven": True}
    assert SentenceImageParams.model_validate(job.params) == SentenceImageParams(
        prompt=after.image_prompt, seed=12345, seed_given=True
    )
    assert job.heroes_params() is None
    events = jobs.events_since(project_id=PROJECT)
    assert {"type": "job_complete", "jobType": "image", "sentenceId": "sent_002", "jobId": job.id}.items() <= events[
        -1
    ].payload.items()
    assert jobs.events_since(project_id=PROJECT, after_id=events[-1].id) == []


def test_the_same_seed_gives_the_same_image_and_no_seed_a_random_recorded_one(demo, fake_backend):
    regenerate(seed=42)
    first = current_pixels()
    regenerate(seed=42)
    assert current_pixels() == first
    seeds = [regenerate().params["seed"] for _ in range(2)]
    assert seeds[0] != seeds[1]
    assert [v.seed for v in versions.list_versions("sentence", "sent_001")] == [seeds[1], seeds[0], 42, 42]
    assert storyboard.get_sentence("sent_001").seed == seeds[1]
    assert current_pixels() != first


def test_cast_references_and_style_lora_go_to_the_backend(demo, fake_backend):
    job = regenerate()
    call = fake_backend.calls[-1]
    assert call["references"] == 3 and call["style_lora"] == "warm-documentary-v2"
    assert (call["width"], call["height"]) == storyboard.SCENE_SIZE
    assert job.result["styleLora"] == "warm-documentary-v2"


def test_a_backend_without_loras_gets_the_name_but_the_job_records_none(demo, fake_backend):
    fake_backend.capabilities = dataclasses.replace(fake_backend.capabilities, accepts_style_lora=False)
    job = regenerate()
    assert fake_backend.calls[-1]["style_lora"] == "warm-documentary-v2"
    assert job.status == "succeeded" and job.result["styleLora"] is None


def test_the_local_backend_draws_the_cast_style_lora(demo):
    from services.backends.local import LocalBackend

    regenerate(seed=5)
    references = [get_storage().get(key) for key in versions.list_versions("sentence", "sent_001")[0].references]
    args = dict(width=storyboard.SCENE_SIZE[0], height=storyboard.SCENE_SIZE[1], seed=5, references=references)
    prompt = storyboard.get_sentence("sent_001").image_prompt
    assert current_pixels() == pixels(LocalBackend().generate(prompt, style_lora="warm-documentary-v2", **args))
    assert current_pixels() != pixels(LocalBackend().generate(prompt, **args))


def test_unknown_sentence_is_404_and_no_prompt_is_400(demo):
    with pytest.raises(ReshootError) as e:
        storyboard.regenerate_sentence_image(sentence_id="sent_nope")
    assert (e.value.status, e.value.to_json()) == (404, {"error": "Sentence not found"})
    with pytest.raises(ReshootError) as e:
        storyboard.regenerate_sentence_image(sentence_id="sent_003")
    assert (e.value.status, e.value.to_json()) == (400, {"error": "No image prompt to generate from"})
    with pytest.raises(ReshootError) as e:
        storyboard.update_sentence(sentence_id="sent_nope", options=storyboard.UpdateSentenceOptions(image_prompt="x"))
    assert e.value.status == 404


def test_a_failed_regeneration_keeps_the_old_image_and_says_so(demo, fake_backend):
    regenerate(seed=7)
    old = storyboard.get_sentence("sent_001")
    fake_backend.fail_when = lambda prompt: BackendUnavailable("ComfyUI is not answering")
    job = regenerate()
    assert (job.status, job.error_code, job.message) == (
        "failed",
        "BACKEND_UNAVAILABLE",
        "ComfyUI is not answering",
    )
    assert storyboard.get_sentence("sent_001").image_file == old.image_file
    assert jobs.events_since(project_id=PROJECT)[-1].payload["type"] == "job_failed"


def test_old_file_is_deleted_after_a_successful_replacement_beyond_retention(demo, fake_backend, monkeypatch):
    monkeypatch.setenv("RESHOOT_KEEP_VERSIONS", "1")
    get_settings.cache_clear()
    regenerate(seed=1)
    [v1] = versions.list_versions("sentence", "sent_001")
    regenerate(seed=2)
    v2, old = versions.list_versions("sentence", "sent_001")
    assert old.id == v1.id and old.file_deleted and not get_storage().exists(v1.storage_key)
    assert v2.is_current and get_storage().exists(v2.storage_key)


def test_storyboard_reads(demo):
    board = storyboard.get_storyboard(PROJECT)
    assert board.id == PROJECT and [c.name for c in board.cast] == ["Ana", "Marco"]
    flat = [s.id for section in board.sections for s in section.sentences]
    assert flat == [s.id for s in storyboard.list_sentences(PROJECT)]
    assert [p.id for p in storyboard.list_projects()] == [PROJECT]
    with pytest.raises(ReshootError) as e:
        storyboard.get_storyboard("nope")
    assert e.value.status == 404


def test_cli_regenerate_image(demo, capsys):
    import json

    from services.cli import main

    assert main(["regenerate-image", "sent_001", "--seed", "42", "--wait"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["seed"] == 42 and printed["imageFile"] == storyboard.get_sentence("sent_001").image_file
    assert main(["regenerate-image", "sent_nope"]) == 1
    assert json.loads(capsys.readouterr().out) == {"error": "Sentence not found"}


@pytest.mark.parametrize(
    ("typed", "used"),
    [(4242, 4242), (0, 0), (storyboard.MAX_SEED, storyboard.MAX_SEED), (2**63, 0), (2**64 + 5, 5), (-2, 2**63 - 2)],
)
def test_a_typed_seed_is_reduced_to_the_backends_range_and_the_used_one_is_stored(demo, fake_backend, typed, used):
    job = regenerate(seed=typed)
    assert job.status == "succeeded" and job.params["seedGiven"] is True
    assert fake_backend.calls[-1]["seed"] == used
    assert job.result["seed"] == used and storyboard.get_sentence("sent_001").seed == used
    assert versions.list_versions("sentence", "sent_001")[0].seed == used


def test_minus_one_or_none_draw_a_random_seed_that_a_retry_draws_again(demo, fake_backend):
    drawn = []
    for typed in (-1, None, -1):
        job = regenerate(seed=typed)
        assert job.params["seedGiven"] is False and 0 <= job.params["seed"] < 2**31
        assert fake_backend.calls[-1]["seed"] == job.params["seed"] == storyboard.get_sentence("sent_001").seed
        drawn.append(job.params["seed"])
    assert len(set(drawn)) == 3


@pytest.mark.parametrize("bad", ["42", 1.5, True])
def test_a_seed_that_is_not_a_whole_number_is_invalid(bad):
    with pytest.raises(ValidationError) as e:
        storyboard.RegenerateImageOptions(seed=bad)
    assert [error["loc"] for error in e.value.errors()] == [("seed",)]


@pytest.mark.parametrize(
    ("typed", "seed"), [("", None), ("  ", None), (None, None), ("-1", -1), (" 42 ", 42), (str(2**64), 2**64)]
)
def test_a_typed_seed_field_reads_as_options(typed, seed):
    assert storyboard.RegenerateImageOptions.from_text(typed).seed == seed


@pytest.mark.parametrize("typed", ["forty-two", "1.5", "0x10"])
def test_a_typed_seed_that_is_not_a_whole_number_is_refused(typed):
    with pytest.raises(ValidationError):
        storyboard.RegenerateImageOptions.from_text(typed)


def _counting_from_the_first_poll(fake, seconds: float) -> type[Deadline]:
    """ComfyUI's `Deadline` class, but a call's deadline of `seconds` starts when ComfyUI first answers a poll of
    the call's history: on a loaded machine the upload, submit and progress writes before it can take longer than
    the whole deadline, and the call would give up before it ever waited (a different failure than the one tested).
    Other deadlines (taking the prompt back) count as usual."""

    class CountingFromTheFirstPoll(Deadline):
        def remaining(self) -> float:
            if self.seconds == seconds and not any(run["polls"] for run in list(fake.prompts.values())):
                self.started = time.monotonic()
            return super().remaining()

    return CountingFromTheFirstPoll


def test_a_job_whose_backend_call_passes_its_deadline_fails_with_backend_timeout(demo, fake_comfyui, monkeypatch):
    """Over real HTTP: ComfyUI never finishes; the job fails with BACKEND_TIMEOUT and a plain message, the old image
    stays, and the prompt is taken off ComfyUI so it writes no orphan output later."""
    monkeypatch.setenv("RESHOOT_IMAGE_BACKEND", "comfyui")
    monkeypatch.setenv("RESHOOT_BACKEND_TIMEOUT", "1.5")
    get_settings.cache_clear()
    monkeypatch.setattr(comfyui, "Deadline", _counting_from_the_first_poll(fake_comfyui, 0.5))
    old = storyboard.get_sentence("sent_001").image_file
    fake_comfyui.fail("timeout")
    job = regenerate()
    assert (job.status, job.error_code) == ("failed", "BACKEND_TIMEOUT")
    assert job.message == "ComfyUI did not finish the image within 1.5 s (RESHOOT_BACKEND_TIMEOUT), so Reshoot gave up."
    assert storyboard.get_sentence("sent_001").image_file == old
    assert [run["state"] for run in fake_comfyui.prompts.values()] == ["interrupted"] and fake_comfyui.files == {}


def test_a_backend_that_ignores_seeds_is_recorded_as_such(demo, fake_openai, monkeypatch):
    """OpenAI's images API has no seed: the version, the job result and the sentence say it was not used."""
    monkeypatch.setenv("RESHOOT_IMAGE_BACKEND", "openai")
    get_settings.cache_clear()
    job = regenerate(seed=42)
    assert job.status == "succeeded", job
    assert (job.result["seed"], job.result["seedHonoured"]) == (42, False)
    [version] = versions.list_versions("sentence", "sent_001")
    assert (version.backend, version.seed, version.seed_honoured) == ("openai", 42, False)
    assert storyboard.get_sentence("sent_001").seed_honoured is False
    assert "seed" not in fake_openai.received[-1]  # it was not sent either (the API refuses one)


def test_a_backend_that_uses_seeds_is_recorded_as_such(demo, fake_backend):
    job = regenerate(seed=42)
    assert job.result["seedHonoured"] is True
    assert versions.list_versions("sentence", "sent_001")[0].seed_honoured is True
    assert storyboard.get_sentence("sent_001").seed_honoured is True
