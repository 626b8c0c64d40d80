"""Hero prompts: a shot's scene prompt edited (dirty until regenerated), regeneration from the edited prompt and
the references (recorded on the version and inside its file), and an earlier version's seed and prompt recalled."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from sqlmodel import col, select

from services import hero_prompts, versions
from services.db import session_scope
from services.errors import ReshootError
from services.identity import Actor, Role, acting_as
from services.jobs import wait_for_job
from services.lifestyle import GenerateHeroesOptions, ReferenceUpload, add_references, start_heroes_job
from services.models import AuditEntry, ExportPlanRow, ImageVersion, Shot
from services.storage import get_storage
from tests.test_work_items import count_queries

ANA = Actor("ana@example.com", "Ana", Role.reviewer)
EDITED = "A chef's knife set on a walnut board, morning light, shallow depth of field"


def regenerate(shot_id: str = "KT-1") -> dict:
    job = wait_for_job(
        start_heroes_job(work_item_id="12", options=GenerateHeroesOptions(shot_ids=[shot_id], overwrite=True)).job_id,
        timeout=60,
    )
    assert job.status == "succeeded", job
    return job


def current_versions(shot_id: str = "KT-1") -> list[ImageVersion]:
    with session_scope() as s:
        return list(
            s.exec(
                select(ImageVersion)
                .join(ExportPlanRow, col(ExportPlanRow.current_version_id) == ImageVersion.id)
                .join(Shot, col(Shot.id) == ExportPlanRow.shot_pk)
                .where(Shot.work_item_id == "12", Shot.shot_id == shot_id)
                .order_by(col(ExportPlanRow.position))
            )
        )


def pixels(version: ImageVersion) -> bytes:
    with Image.open(io.BytesIO(get_storage().get(version.storage_key))) as image:
        return image.tobytes()


def png(color) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, "PNG")
    return out.getvalue()


def test_an_edited_prompt_is_saved_audited_and_marks_the_heroes_dirty_until_regenerated(demo, fake_backend):
    regenerate()
    assert hero_prompts.shot_prompt(work_item_id="12", shot_id="KT-1").heroes_dirty is False
    with acting_as(ANA):
        saved = hero_prompts.update_shot_prompt(
            work_item_id="12", shot_id="KT-1", options=hero_prompts.UpdateShotPromptOptions(prompt=EDITED)
        )
        again = hero_prompts.update_shot_prompt(
            work_item_id="12", shot_id="KT-1", options=hero_prompts.UpdateShotPromptOptions(prompt=EDITED)
        )  # no change
    assert (saved.prompt, saved.heroes_dirty) == (EDITED, True) and again.heroes_dirty
    assert saved.model_dump(mode="json")["heroesDirty"] is True
    with session_scope() as s:
        [audited] = s.exec(select(AuditEntry).where(AuditEntry.action == "shot.prompt")).all()
    assert (audited.actor_email, audited.shot_id, audited.after) == ("ana@example.com", "KT-1", {"prompt": EDITED})
    other = hero_prompts.shot_prompt(work_item_id="12", shot_id="KT-2")
    assert other.heroes_dirty is False  # only the edited shot

    regenerate()
    assert hero_prompts.shot_prompt(work_item_id="12", shot_id="KT-1").heroes_dirty is False


def test_regenerate_uses_the_edited_prompt_and_the_references_and_the_file_says_so(demo, fake_backend):
    add_references(
        work_item_id="12",
        options=ReferenceUpload(shot_id="KT-1", files=[("a.png", png("red")), ("b.png", png("blue"))]),
    )
    with acting_as(ANA):
        hero_prompts.update_shot_prompt(
            work_item_id="12", shot_id="KT-1", options=hero_prompts.UpdateShotPromptOptions(prompt=EDITED)
        )
    regenerate()
    [call] = fake_backend.calls
    assert (call["prompt"], call["references"]) == (EDITED, 2)
    made = current_versions()
    assert len(made) == 3 and {v.prompt for v in made} == {EDITED} and all(len(v.references) == 2 for v in made)
    with Image.open(io.BytesIO(get_storage().get(made[0].storage_key))) as image:
        chunks = dict(image.text)
    assert chunks["parameters"].startswith(EDITED + "\n") and f"Seed: {made[0].seed}," in chunks["parameters"]
    assert json.loads(chunks["reshoot"])["prompt"] == EDITED


def test_use_this_seed_and_prompt_reproduces_an_earlier_version(demo, fake_backend):
    with acting_as(ANA):
        hero_prompts.update_shot_prompt(
            work_item_id="12", shot_id="KT-1", options=hero_prompts.UpdateShotPromptOptions(prompt="first take")
        )
    regenerate()
    [first, *_] = current_versions()
    with acting_as(ANA):
        hero_prompts.update_shot_prompt(
            work_item_id="12", shot_id="KT-1", options=hero_prompts.UpdateShotPromptOptions(prompt="second take")
        )
    regenerate()
    second = current_versions()[0]
    assert second.prompt == "second take" and pixels(second) != pixels(first)

    with acting_as(ANA):
        recalled = hero_prompts.use_version_for_shot(version_id=first.id)
    assert (recalled.prompt, recalled.seed, recalled.heroes_dirty) == ("first take", first.seed, True)
    regenerate()
    again = current_versions()[0]
    assert (fake_backend.calls[-1]["seed"], fake_backend.calls[-1]["prompt"]) == (first.seed, "first take")
    assert (again.seed, again.prompt) == (first.seed, "first take") and again.id != first.id
    assert pixels(again) == pixels(first)  # the same picture (the files differ only in their version number)
    assert regenerate() and fake_backend.calls[-1]["seed"] == first.seed  # kept until cleared
    with acting_as(ANA):
        cleared = hero_prompts.set_shot_seed(work_item_id="12", shot_id="KT-1", seed=None)
    assert cleared.seed is None
    with session_scope() as s:
        actions = [a.action for a in s.exec(select(AuditEntry).where(AuditEntry.shot_id == "KT-1"))]
    assert actions.count("shot.seed") == 2 and actions.count("shot.prompt") == 3


def test_card_summaries_and_rejected_notes_in_one_query_each(demo, fake_backend):
    regenerate("KT-1")
    regenerate("KT-2")
    desktop, tablet, _mobile = current_versions("KT-1")
    with acting_as(ANA):
        versions.set_review(
            version_id=desktop.id, options=versions.ReviewDecisionOptions(state="rejected", note="Blade looks bent")
        )
        versions.set_review(version_id=tablet.id, options=versions.ReviewDecisionOptions(state="approved"))
    with count_queries() as counted:
        summaries = hero_prompts.card_summaries(work_item_id="12", shot_ids=["KT-1", "KT-2", "KT-3"])
    assert len(counted) == 1
    assert set(summaries) == {"KT-1", "KT-2", "KT-3"} and summaries["KT-3"].sizes == {}
    kt1 = summaries["KT-1"].sizes
    assert (kt1["Desktop"].review_state, kt1["Desktop"].reviewer, kt1["Desktop"].review_note) == (
        "rejected",
        "Ana",
        "Blade looks bent",
    )
    assert kt1["Tablet"].review_state == "approved" and kt1["Mobile"].review_state == "pending"
    with count_queries() as counted:
        rejected = hero_prompts.rejected_heroes(work_item_id="12", shot_ids=["KT-1", "KT-2"])
    assert len(counted) == 1
    assert [(r.shot_id, r.size_label, r.reviewer, r.note) for r in rejected] == [
        ("KT-1", "Desktop", "Ana", "Blade looks bent")
    ]
    assert hero_prompts.rejected_heroes(work_item_id="12", shot_ids=["KT-2"]) == []


@pytest.mark.parametrize(
    ("prompt", "why"),
    [("a\x00b", "NUL"), ("x" * (hero_prompts.MAX_PROMPT_LENGTH + 1), "longer than"), (42, "must be text")],
)
def test_a_bad_prompt_is_refused_and_nothing_changes(demo, prompt, why):
    with acting_as(ANA), pytest.raises(ReshootError) as e:
        hero_prompts.update_shot_prompt(
            work_item_id="12", shot_id="KT-1", options=hero_prompts.UpdateShotPromptOptions(prompt=prompt)
        )
    assert e.value.code == "INVALID_REQUEST" and why in str(e.value.details)
    assert hero_prompts.shot_prompt(work_item_id="12", shot_id="KT-1").heroes_dirty is False


def test_viewers_cannot_edit_and_unknown_shots_and_versions_are_404(demo):
    with acting_as(Actor("vic@example.com", "Vic", Role.viewer)), pytest.raises(ReshootError) as e:
        hero_prompts.update_shot_prompt(
            work_item_id="12", shot_id="KT-1", options=hero_prompts.UpdateShotPromptOptions(prompt="mine")
        )
    assert e.value.code == "FORBIDDEN"
    with acting_as(ANA):
        for call in (
            lambda: hero_prompts.update_shot_prompt(
                work_item_id="12", shot_id="NOPE", options=hero_prompts.UpdateShotPromptOptions(prompt="x")
            ),
            lambda: hero_prompts.use_version_for_shot(version_id=424242),
        ):
            with pytest.raises(ReshootError) as e:
                call()
            assert e.value.status == 404
        with pytest.raises(ReshootError) as e:
            hero_prompts.set_shot_seed(work_item_id="12", shot_id="KT-1", seed=-5)
        assert e.value.code == "INVALID_REQUEST"
